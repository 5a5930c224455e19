package apiclient

import (
	"context"
	"net/http"
)

// RekeyReport is the answer of an encryption-key rotation.
type RekeyReport struct {
	KeyID  string `json:"key_id"`
	Nodes  int    `json:"nodes"`
	Reseal struct {
		Values   int `json:"values"`
		Replaced int `json:"replaced"`
		Rounds   int `json:"rounds"`
	} `json:"reseal"`
	Retired bool   `json:"retired"`
	Warning string `json:"warning,omitempty"`
}

// RotateEncryptionKey moves the cluster to a new encryption key and
// re-seals every secret under it (system_admins, read-write session).
func (c *Client) RotateEncryptionKey(ctx context.Context) (*RekeyReport, error) {
	var r RekeyReport
	if _, err := c.Do(ctx, http.MethodPost, "/v1/system/encryption-key/rotate", struct{}{}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
