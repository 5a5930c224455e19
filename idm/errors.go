package idm

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-idm/gatehouse/cluster"
	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/password"
)

// Error is the one error type that reaches users: an HTTP status, a code
// and a reason a person understands.
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Invalid, NotFound, ... build the common errors.
func Invalid(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "invalid", format, args...)
}
func NotFound(format string, args ...any) *Error {
	return errorf(http.StatusNotFound, "not_found", format, args...)
}
func Forbidden(format string, args ...any) *Error {
	return errorf(http.StatusForbidden, "forbidden", format, args...)
}
func Conflict(format string, args ...any) *Error {
	return errorf(http.StatusConflict, "conflict", format, args...)
}
func Unauthorized(format string, args ...any) *Error {
	return errorf(http.StatusUnauthorized, "unauthorized", format, args...)
}
func Unavailable(format string, args ...any) *Error {
	return errorf(http.StatusServiceUnavailable, "unavailable", format, args...)
}

// fromApply maps a handler's refusal to a user error.
func fromApply(e *fsm.ApplyError) *Error {
	switch e.Code {
	case fsm.CodeNotFound:
		return NotFound("%s", e.Message)
	case fsm.CodeConflict:
		return Conflict("%s", e.Message)
	case fsm.CodeDenied:
		return Forbidden("%s", e.Message)
	default:
		return Invalid("%s", e.Message)
	}
}

// AsError turns any error into a user error; what is not already one is a
// failure of ours (500) unless it is a known condition.
func AsError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, cluster.ErrNoLeader):
		return Unavailable("the cluster has no leader right now, so changes cannot be saved; try again in a few seconds")
	case errors.Is(err, password.ErrBusy):
		return Unavailable("%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return Unavailable("the request timed out: %v", err)
	default:
		return errorf(http.StatusInternalServerError, "internal", "internal error")
	}
}

// ReauthRequired is the answer to a write with a read-only session.
func ReauthRequired() *Error {
	return &Error{Status: 403, Code: "reauth_required",
		Msg: "this session is read-only: re-authenticate to make changes (gatehouse reauth, or POST /v1/reauth)"}
}

// UnsupportedMedia is a body in a format the endpoint does not take.
func UnsupportedMedia(format string, args ...any) *Error {
	return &Error{Status: 415, Code: "unsupported_media_type", Msg: fmt.Sprintf(format, args...)}
}
