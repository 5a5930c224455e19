package fsm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Buckets of state.db. Every value is JSON; keys are plain strings except
// where noted.
var (
	bMeta     = []byte("meta")     // applied_index, applied_term (8-byte big endian), system (JSON)
	bEntries  = []byte("entries")  // uuid -> entry.Entry
	bNames    = []byte("names")    // name -> uuid (uniqueness inside a batch)
	bDenied   = []byte("denied")   // name -> ""
	bKeys     = []byte("keys")     // kid -> SigningKey
	bRequests = []byte("requests") // request id -> Result (dedup)
	bReqLog   = []byte("reqlog")   // 8-byte index + request id -> "" (pruning order)
	bGroups   = []byte("groups")   // group uuid -> "" (groups to visit when an entry goes)
	bParents  = []byte("parents")  // member uuid -> JSON list of the groups that list it directly

	bSessions    = []byte("sessions")     // session id -> Session
	bRevoked     = []byte("revoked")      // session id -> 8-byte expiry (ms)
	bResetTokens = []byte("reset_tokens") // sha256 hex -> ResetToken
	bExpiry      = []byte("expiry")       // 8-byte expiry | kind | id -> "" (pruning order)
	bBadlist     = []byte("badlist")      // lower-cased password -> ""
	bPrincipals  = []byte("principals")   // Kerberos principal -> uuid
	bExternalIDs = []byte("external_ids") // entry.ExternalKey(provider, subject) -> uuid

	// OAuth2 provider state (handlers_oauth2.go).
	bOAuth2Consent   = []byte("oauth2_consent")    // account uuid | client uuid -> consent record
	bOAuth2Refresh   = []byte("oauth2_refresh")    // refresh family id -> family record
	bOAuth2Device    = []byte("oauth2_device")     // device code hash -> device grant
	bOAuth2UserCodes = []byte("oauth2_user_codes") // user code -> device code hash

	// Upstream SSO (handlers_sso.go).
	bSSOProviders = []byte("sso_providers") // provider uuid -> provider record
	bSSOSettings  = []byte("sso_settings")  // "global" -> global settings

	allBuckets = [][]byte{bMeta, bEntries, bNames, bGroups, bParents, bDenied, bKeys, bRequests, bReqLog,
		bSessions, bRevoked, bResetTokens, bExpiry, bBadlist, bPrincipals, bExternalIDs,
		bOAuth2Consent, bOAuth2Refresh, bOAuth2Device, bOAuth2UserCodes, bSSOProviders, bSSOSettings}

	kAppliedIndex = []byte("applied_index")
	kAppliedTerm  = []byte("applied_term")
	kSystem       = []byte("system")
)

// dedupWindow is how many log indexes a request id is remembered for. A
// client retry arrives within seconds; at thousands of writes per second this
// still covers well over that.
const dedupWindow = 50000

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func createBuckets(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

func putJSON(b *bolt.Bucket, k string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", k, err)
	}
	return b.Put([]byte(k), data)
}

func getJSON(b *bolt.Bucket, k string, v any) (bool, error) {
	data := b.Get([]byte(k))
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode %s: %w", k, err)
	}
	return true, nil
}

// present is the value of set-like buckets. Not nil: inside the writing
// transaction bbolt returns nil for a key stored with a nil value, so a
// membership check would miss a key added earlier in the same batch.
var present = []byte{1}
