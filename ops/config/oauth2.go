package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OAuth2Config is the [oauth2] table.
type OAuth2Config struct {
	// KeyRotation is how old the active signing key may get before the
	// leader adds a new one ("30d", "720h"; default 30 days). Superseded
	// keys stay in the JWKS until every token they signed has expired
	// (docs/oauth2-clients.md, "Signing keys").
	KeyRotation KeyRotationPeriod `toml:"key_rotation"`
}

// DefaultKeyRotation is the rotation period when none is configured.
const DefaultKeyRotation = 30 * 24 * time.Hour

// MinKeyRotation keeps a typo ("30s") from filling the log with keys.
const MinKeyRotation = time.Hour

// KeyRotationPeriod is a duration written as Go does ("720h") or in days
// ("30d").
type KeyRotationPeriod time.Duration

// UnmarshalText parses the TOML string, so a bad value fails at load.
func (p *KeyRotationPeriod) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return fmt.Errorf("key_rotation %q: want a duration like \"30d\" or \"720h\"", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return fmt.Errorf("key_rotation %q: want a duration like \"30d\" or \"720h\"", s)
		}
	}
	if d < MinKeyRotation {
		return fmt.Errorf("key_rotation %q: at least %v", s, MinKeyRotation)
	}
	*p = KeyRotationPeriod(d)
	return nil
}

// Period returns the rotation period, the default when unset.
func (o OAuth2Config) Period() time.Duration {
	if o.KeyRotation == 0 {
		return DefaultKeyRotation
	}
	return time.Duration(o.KeyRotation)
}
