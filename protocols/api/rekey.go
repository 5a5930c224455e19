package api

import (
	"context"
	"net/http"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/ops/rekey"
)

// RekeyDeps is what the encryption-key rotation route needs.
type RekeyDeps struct {
	Rekey interface {
		Rotate(ctx context.Context, actor idm.Actor) (rekey.Report, error)
	}
}

func (s *Server) routesRekey(route routeFunc) {
	route("POST /v1/system/encryption-key/rotate", readWrite, s.rotateEncryptionKey)
}

// rotateEncryptionKey runs on the leader only, so that two rotations never
// interleave; any other node forwards the request there.
func (s *Server) rotateEncryptionKey(r *http.Request, a idm.Actor) (result, error) {
	if s.Rekey == nil {
		return result{}, idm.Unavailable("encryption key rotation is not available on this node")
	}
	if leader, _ := s.Cluster.Leader(); leader != s.NodeID {
		if leader == "" {
			return result{}, idm.Unavailable("the cluster has no leader; try again in a moment")
		}
		if s.ownerElsewhere(r, leader) {
			return s.forwardTo(leader, r)
		}
	}
	rep, err := s.Rekey.Rotate(r.Context(), a)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: rep}, nil
}
