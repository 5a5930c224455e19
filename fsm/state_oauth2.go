package fsm

import (
	bolt "go.etcd.io/bbolt"
)

// Reads of the OAuth2 provider's records (handlers_oauth2.go).

// OAuth2ConsentOf returns the scopes account consented to for client (a
// uuid), if it did.
func (f *FSM) OAuth2ConsentOf(account, client string) (OAuth2Consent, bool) {
	var c OAuth2Consent
	var ok bool
	f.view(func(tx *bolt.Tx) error {
		ok, _ = getJSON(tx.Bucket(bOAuth2Consent), consentKey(account, client), &c)
		return nil
	})
	return c, ok
}

// OAuth2FamilyOf returns a refresh family's record.
func (f *FSM) OAuth2FamilyOf(id string) (OAuth2Family, bool) {
	var fam OAuth2Family
	var ok bool
	f.view(func(tx *bolt.Tx) error {
		ok, _ = getJSON(tx.Bucket(bOAuth2Refresh), id, &fam)
		return nil
	})
	return fam, ok
}

// OAuth2DeviceOf returns the device grant stored under a device code hash.
func (f *FSM) OAuth2DeviceOf(hash string) (OAuth2Device, bool) {
	var d OAuth2Device
	var ok bool
	f.view(func(tx *bolt.Tx) error {
		ok, _ = getJSON(tx.Bucket(bOAuth2Device), hash, &d)
		return nil
	})
	return d, ok
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
