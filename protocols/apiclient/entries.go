package apiclient

import (
	"context"
	"net/http"
	"net/url"
)

// Entry is a person, group or service account as the API returns it.
type Entry struct {
	UUID        string   `json:"uuid"`
	Class       string   `json:"class"`
	Name        string   `json:"name"`
	SPN         string   `json:"spn"`
	DisplayName string   `json:"displayname"`
	Mail        []string `json:"mail"`
	Description string   `json:"description"`
	Members     []string `json:"members"`
	MemberOf    []string `json:"memberof"`
	HasPassword bool     `json:"has_password"`
	// KerberosPrincipals map Kerberos logins to this person.
	KerberosPrincipals []string `json:"krb_principals"`
	Disabled           bool     `json:"disabled"`
	Builtin            bool     `json:"builtin"`
	Version            uint64   `json:"version"`
	Created            string   `json:"created"`
	Updated            string   `json:"updated"`
}

// EntryPatch is the body of a PATCH: nil fields are left unchanged. Mail
// points to a slice so that an empty list (clear all addresses) differs from
// "leave mail alone". Groups accept only Name and Description.
type EntryPatch struct {
	Name        *string   `json:"name,omitempty"`
	DisplayName *string   `json:"displayname,omitempty"`
	Mail        *[]string `json:"mail,omitempty"`
	Description *string   `json:"description,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
}

type entryList struct {
	Entries []Entry `json:"entries"`
}

type nameList struct {
	Names []string `json:"names"`
}

type memberList struct {
	Members []string `json:"members"`
}

// Collection paths of docs/api.md.
const (
	pathPerson         = "/v1/person"
	pathGroup          = "/v1/group"
	pathServiceAccount = "/v1/service_account"
	pathDeniedNames    = "/v1/system/denied_names"
)

// entryPath addresses one entry; ids may be names or spns, so they are escaped.
func entryPath(collection, id string) string { return collection + "/" + url.PathEscape(id) }

func (c *Client) entry(ctx context.Context, method, path string, in any) (*Entry, error) {
	var e Entry
	if _, err := c.Do(ctx, method, path, in, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

func (c *Client) entries(ctx context.Context, path string) ([]Entry, error) {
	var l entryList
	if _, err := c.Do(ctx, http.MethodGet, path, nil, &l); err != nil {
		return nil, err
	}
	return l.Entries, nil
}

func (c *Client) names(ctx context.Context, method string, in any) ([]string, error) {
	var l nameList
	if _, err := c.Do(ctx, method, pathDeniedNames, in, &l); err != nil {
		return nil, err
	}
	return l.Names, nil
}

// Persons.

// CreatePerson creates a person; mail may be nil.
func (c *Client) CreatePerson(ctx context.Context, name, displayName string, mail []string) (*Entry, error) {
	return c.entry(ctx, http.MethodPost, pathPerson, struct {
		Name        string   `json:"name"`
		DisplayName string   `json:"displayname"`
		Mail        []string `json:"mail,omitempty"`
	}{name, displayName, mail})
}

// GetPerson reads a person by uuid, name or spn.
func (c *Client) GetPerson(ctx context.Context, id string) (*Entry, error) {
	return c.entry(ctx, http.MethodGet, entryPath(pathPerson, id), nil)
}

// ListPersons lists every person.
func (c *Client) ListPersons(ctx context.Context) ([]Entry, error) { return c.entries(ctx, pathPerson) }

// UpdatePerson applies a patch and returns the updated entry.
func (c *Client) UpdatePerson(ctx context.Context, id string, p EntryPatch) (*Entry, error) {
	return c.entry(ctx, http.MethodPatch, entryPath(pathPerson, id), p)
}

// DeletePerson deletes a person.
func (c *Client) DeletePerson(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, entryPath(pathPerson, id), nil, nil)
	return err
}

// SetPassword sets a person's password as an administrator.
func (c *Client) SetPassword(ctx context.Context, id, password string) error {
	_, err := c.Do(ctx, http.MethodPost, entryPath(pathPerson, id)+"/password", struct {
		Password string `json:"password"`
	}{password}, nil)
	return err
}

// Groups.

// CreateGroup creates a group; description and members may be empty.
func (c *Client) CreateGroup(ctx context.Context, name, description string, members []string) (*Entry, error) {
	return c.entry(ctx, http.MethodPost, pathGroup, struct {
		Name        string   `json:"name"`
		Description string   `json:"description,omitempty"`
		Members     []string `json:"members,omitempty"`
	}{name, description, members})
}

// GetGroup reads a group by uuid, name or spn.
func (c *Client) GetGroup(ctx context.Context, id string) (*Entry, error) {
	return c.entry(ctx, http.MethodGet, entryPath(pathGroup, id), nil)
}

// ListGroups lists every group.
func (c *Client) ListGroups(ctx context.Context) ([]Entry, error) { return c.entries(ctx, pathGroup) }

// UpdateGroup renames a group or changes its description.
func (c *Client) UpdateGroup(ctx context.Context, id string, p EntryPatch) (*Entry, error) {
	return c.entry(ctx, http.MethodPatch, entryPath(pathGroup, id), p)
}

// DeleteGroup deletes a group.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, entryPath(pathGroup, id), nil, nil)
	return err
}

// AddMembers adds direct members (persons, service accounts or groups).
func (c *Client) AddMembers(ctx context.Context, group string, members ...string) (*Entry, error) {
	return c.entry(ctx, http.MethodPost, entryPath(pathGroup, group)+"/members", memberList{members})
}

// RemoveMembers removes direct members.
func (c *Client) RemoveMembers(ctx context.Context, group string, members ...string) (*Entry, error) {
	return c.entry(ctx, http.MethodDelete, entryPath(pathGroup, group)+"/members", memberList{members})
}

// ListMembers lists a group's direct members.
func (c *Client) ListMembers(ctx context.Context, group string) ([]Entry, error) {
	return c.entries(ctx, entryPath(pathGroup, group)+"/members")
}

// Service accounts.

// CreateServiceAccount creates a service account.
func (c *Client) CreateServiceAccount(ctx context.Context, name, displayName string) (*Entry, error) {
	return c.entry(ctx, http.MethodPost, pathServiceAccount, struct {
		Name        string `json:"name"`
		DisplayName string `json:"displayname"`
	}{name, displayName})
}

// GetServiceAccount reads a service account by uuid, name or spn.
func (c *Client) GetServiceAccount(ctx context.Context, id string) (*Entry, error) {
	return c.entry(ctx, http.MethodGet, entryPath(pathServiceAccount, id), nil)
}

// ListServiceAccounts lists every service account.
func (c *Client) ListServiceAccounts(ctx context.Context) ([]Entry, error) {
	return c.entries(ctx, pathServiceAccount)
}

// UpdateServiceAccount applies a patch and returns the updated entry.
func (c *Client) UpdateServiceAccount(ctx context.Context, id string, p EntryPatch) (*Entry, error) {
	return c.entry(ctx, http.MethodPatch, entryPath(pathServiceAccount, id), p)
}

// DeleteServiceAccount deletes a service account.
func (c *Client) DeleteServiceAccount(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, entryPath(pathServiceAccount, id), nil, nil)
	return err
}

// System.

// DeniedNames returns the names no entry may take.
func (c *Client) DeniedNames(ctx context.Context) ([]string, error) {
	return c.names(ctx, http.MethodGet, nil)
}

// AppendDeniedNames adds names to the denied list and returns the new list.
func (c *Client) AppendDeniedNames(ctx context.Context, names ...string) ([]string, error) {
	return c.names(ctx, http.MethodPost, nameList{names})
}

// RemoveDeniedNames removes names from the denied list and returns the new list.
func (c *Client) RemoveDeniedNames(ctx context.Context, names ...string) ([]string, error) {
	return c.names(ctx, http.MethodDelete, nameList{names})
}

// NodeStatus is the body of GET /status.
type NodeStatus struct {
	Status       string `json:"status"`
	Node         string `json:"node"`
	Leader       string `json:"leader"`
	AppliedIndex uint64 `json:"applied_index"`
}

// Status reads the node's health; a node that does not serve yet answers an
// *Error with status 503 and its reason.
func (c *Client) Status(ctx context.Context) (*NodeStatus, error) {
	var s NodeStatus
	if _, err := c.Do(ctx, http.MethodGet, "/status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// AddKerberosPrincipal maps a Kerberos principal (name@REALM) to a person.
func (c *Client) AddKerberosPrincipal(ctx context.Context, person, principal string) (*Entry, error) {
	return c.entry(ctx, http.MethodPost, entryPath(pathPerson, person)+"/kerberos/principals", map[string]string{"principal": principal})
}

// RemoveKerberosPrincipal removes a principal from a person.
func (c *Client) RemoveKerberosPrincipal(ctx context.Context, person, principal string) (*Entry, error) {
	return c.entry(ctx, http.MethodDelete, entryPath(pathPerson, person)+"/kerberos/principals/"+url.PathEscape(principal), nil)
}
