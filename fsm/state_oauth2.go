package fsm

import (
	bolt "go.etcd.io/bbolt"
)

// Reads of the OAuth2 provider's records (handlers_oauth2.go).

// OAuth2ConsentOf returns the scopes account consented to for client (a
// uuid), if it did.
func (f *FSM) OAuth2ConsentOf(account, client string) (OAuth2Consent, bool) {
	return record[OAuth2Consent](f, bOAuth2Consent, consentKey(account, client))
}

// OAuth2FamilyOf returns a refresh family's record.
func (f *FSM) OAuth2FamilyOf(id string) (OAuth2Family, bool) {
	return record[OAuth2Family](f, bOAuth2Refresh, id)
}

// OAuth2DeviceOf returns the device grant stored under a device code hash.
func (f *FSM) OAuth2DeviceOf(hash string) (OAuth2Device, bool) {
	return record[OAuth2Device](f, bOAuth2Device, hash)
}

// OAuth2DeviceByUserCode returns the pending device grant of a user code.
func (f *FSM) OAuth2DeviceByUserCode(code string) (OAuth2Device, bool) {
	var d OAuth2Device
	var ok bool
	f.view(func(tx *bolt.Tx) error {
		h := tx.Bucket(bOAuth2UserCodes).Get([]byte(code))
		if h != nil {
			ok, _ = getJSON(tx.Bucket(bOAuth2Device), string(h), &d)
		}
		return nil
	})
	return d, ok
}
