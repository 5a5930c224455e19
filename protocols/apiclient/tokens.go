package apiclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvTokenFile overrides where the CLI keeps its tokens (tests use it).
const EnvTokenFile = "GATEHOUSE_TOKEN_FILE"

// DefaultTokenPath is $GATEHOUSE_TOKEN_FILE, else
// os.UserConfigDir()/gatehouse/tokens.json.
func DefaultTokenPath() (string, error) {
	if p := os.Getenv(EnvTokenFile); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config dir (set %s to choose a token file): %w", EnvTokenFile, err)
	}
	return filepath.Join(dir, "gatehouse", "tokens.json"), nil
}

// TokenStore keeps session tokens in a JSON object {url: token} in a file
// readable only by its owner: a token is as good as a password until it
// expires.
type TokenStore struct {
	Path string
}

// normalizeURL makes "https://h:1/" and "https://h:1" the same key.
func normalizeURL(u string) string { return strings.TrimRight(u, "/") }

func (s TokenStore) load() (map[string]string, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	m := map[string]string{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("token file %s is corrupt (delete it and log in again): %w", s.Path, err)
		}
	}
	return m, nil
}

// Get returns the token for url, or "" when there is none.
func (s TokenStore) Get(url string) (string, error) {
	m, err := s.load()
	if err != nil {
		return "", err
	}
	return m[normalizeURL(url)], nil
}

// Set stores the token for url.
func (s TokenStore) Set(url, token string) error {
	m, err := s.load()
	if err != nil {
		return err
	}
	m[normalizeURL(url)] = token
	return s.save(m)
}

// Delete forgets the token for url; forgetting a missing one is no error.
func (s TokenStore) Delete(url string) error {
	m, err := s.load()
	if err != nil {
		return err
	}
	if _, ok := m[normalizeURL(url)]; !ok {
		return nil
	}
	delete(m, normalizeURL(url))
	return s.save(m)
}

// save writes a temp file created 0600 and renames it over the old one, so
// a crash never leaves a half-written file and the token is never readable
// by others, not even for a moment.
func (s TokenStore) save(m map[string]string) error {
	dir := filepath.Dir(s.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create token dir: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode tokens: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tokens-*.json")
	if err != nil {
		return fmt.Errorf("create token file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("chmod token file: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	if err := os.Rename(tmp, s.Path); err != nil {
		return fmt.Errorf("replace token file: %w", err)
	}
	return nil
}
