package spnego

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
)

// DefaultPoll is how often a Keytab looks at its file for a change.
const DefaultPoll = 2 * time.Second

// KeytabPath is the keytab to use: the configured path, else $KRB5_KTNAME
// without a "FILE:" prefix; "" means Kerberos is off.
func KeytabPath(configured string) string {
	if configured != "" {
		return configured
	}
	return strings.TrimPrefix(os.Getenv("KRB5_KTNAME"), "FILE:")
}

// Keytab holds the service keys of one keytab file. It is safe for
// concurrent use: readers get the keys loaded last, a reload swaps them.
type Keytab struct {
	path string
	log  *slog.Logger

	mu    sync.RWMutex
	kt    *keytab.Keytab
	mtime time.Time
	size  int64

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// OpenKeytab loads the keytab at path and watches the file: every poll
// (DefaultPoll when 0) a changed modification time or size reloads it.
// Close stops the watcher.
func OpenKeytab(path string, log *slog.Logger, poll time.Duration) (*Keytab, error) {
	if log == nil {
		log = slog.Default()
	}
	if poll <= 0 {
		poll = DefaultPoll
	}
	k := &Keytab{path: path, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	go k.watch(poll)
	return k, nil
}

// StaticKeytab wraps keys that come from no file (tests); Reload keeps them.
func StaticKeytab(kt *keytab.Keytab) *Keytab {
	k := &Keytab{kt: kt, log: slog.Default(), stop: make(chan struct{}), done: make(chan struct{})}
	close(k.done)
	return k
}

// Keys returns the keys loaded last. The value must not be modified.
func (k *Keytab) Keys() *keytab.Keytab {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.kt
}

// Path is the file the keys come from ("" for a static keytab).
func (k *Keytab) Path() string { return k.path }

// Reload reads the file again. A file that cannot be read or holds no key
// leaves the keys loaded before in place (a half-written file during a
// rotation must not lock everyone out) and returns why.
func (k *Keytab) Reload() error {
	if k.path == "" {
		return nil
	}
	fi, err := os.Stat(k.path)
	if err != nil {
		return fmt.Errorf("keytab %s: %w", k.path, err)
	}
	kt, err := keytab.Load(k.path)
	if err != nil {
		return fmt.Errorf("keytab %s: %w", k.path, err)
	}
	if len(kt.Entries) == 0 {
		return fmt.Errorf("keytab %s holds no key", k.path)
	}
	k.mu.Lock()
	k.kt, k.mtime, k.size = kt, fi.ModTime(), fi.Size()
	k.mu.Unlock()
	k.log.Info("spnego: keytab loaded", "path", k.path, "keys", len(kt.Entries), "principals", principals(kt))
	return nil
}

func (k *Keytab) changed() bool {
	fi, err := os.Stat(k.path)
	if err != nil {
		return false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return !fi.ModTime().Equal(k.mtime) || fi.Size() != k.size
}

func (k *Keytab) watch(poll time.Duration) {
	defer close(k.done)
	t := time.NewTicker(poll)
	defer t.Stop()
	// The last file seen failing is not retried until it changes again,
	// so a bad file logs one warning, not one per poll.
	var badMtime time.Time
	var badSize int64 = -1
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		if !k.changed() {
			continue
		}
		fi, err := os.Stat(k.path)
		if err != nil || (fi.ModTime().Equal(badMtime) && fi.Size() == badSize) {
			continue
		}
		if err := k.Reload(); err != nil {
			badMtime, badSize = fi.ModTime(), fi.Size()
			k.log.Warn("spnego: the keytab changed but cannot be loaded; the keys loaded before stay in use", "error", err)
		}
	}
}

// Close stops watching the file.
func (k *Keytab) Close() {
	k.once.Do(func() { close(k.stop) })
	<-k.done
}

// principals lists the distinct principals of a keytab, for the log.
func principals(kt *keytab.Keytab) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range kt.Entries {
		p := strings.Join(e.Principal.Components, "/") + "@" + e.Principal.Realm
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
