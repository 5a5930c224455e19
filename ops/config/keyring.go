package config

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LoadKeyring reads the cluster encryption key file: one base64 32-byte
// key per line, the sealing key first, then keys that only open values
// (during `gatehouse cluster rotate-encryption-key`). Blank lines and
// lines starting with '#' are skipped.
func LoadKeyring(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	var keys [][]byte
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("key %s line %d: not base64: %w", path, i+1, err)
		}
		if len(k) != 32 {
			return nil, fmt.Errorf("key %s line %d: %d bytes, want 32", path, i+1, len(k))
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("key %s holds no key", path)
	}
	return keys, nil
}

// WriteKeyring replaces the key file atomically (temp file, fsync, rename),
// so a crash leaves either the old or the new ring, never half of one.
func WriteKeyring(path string, keys [][]byte) error {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(base64.StdEncoding.EncodeToString(k))
		b.WriteByte('\n')
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".encryption-key-*")
	if err != nil {
		return fmt.Errorf("write key ring: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write key ring: %w", err)
	}
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("write key ring: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write key ring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write key ring: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write key ring: %w", err)
	}
	return nil
}
