package pwquality

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// filterChunk is how many candidates a worker scores between progress
// reports: small enough for a smooth bar, large enough that the channel
// and the callback cost nothing next to zxcvbn.
const filterChunk = 256

// Filter prepares lines of breached-password files for the badlist. It
// trims each line and drops empty ones and comments (lines starting with
// #), drops what Check would already refuse without the badlist (shorter
// than entry.DefaultPasswordMinimumLength, or a zxcvbn score below the top
// with no user inputs), drops lines longer than the badlist allows, and
// returns the rest lower-cased and without duplicates, in input order.
//
// A line is scored as written, before lower-casing: that is the password
// that was breached, and whether it is weak as written is what counts.
//
// zxcvbn is the cost (tens to hundreds of microseconds a line), so scoring
// is spread over workers goroutines (< 1 means 1). progress, when not nil,
// is called, never concurrently, with the number of input lines handled
// so far; it reaches len(lines).
func Filter(lines []string, workers int, progress func(done int)) []string {
	if workers < 1 {
		workers = 1
	}
	// Cheap rules first, in one pass, so that only real candidates reach
	// zxcvbn: in breach lists most lines are short and many repeat.
	seen := make(map[string]struct{}, len(lines)/4)
	cands := make([]string, 0, len(lines)/4)
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || len(l) > fsm.MaxBadlistLen || !utf8.ValidString(l) ||
			utf8.RuneCountInString(l) < entry.DefaultPasswordMinimumLength {
			continue
		}
		if _, dup := seen[l]; dup {
			continue
		}
		seen[l] = struct{}{}
		cands = append(cands, l)
	}
	seen = nil

	var mu sync.Mutex
	done := len(lines) - len(cands)
	report := func(n int) {
		if progress == nil {
			return
		}
		mu.Lock()
		done += n
		progress(done)
		mu.Unlock()
	}
	report(0)

	keep := make([]bool, len(cands))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, max(1, len(cands)/filterChunk+1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(filterChunk)) - filterChunk
				if lo >= len(cands) {
					return
				}
				hi := min(lo+filterChunk, len(cands))
				for i := lo; i < hi; i++ {
					// Each worker writes only its own indexes of keep.
					keep[i] = score(cands[i], nil).Score >= TopScore
				}
				report(hi - lo)
			}
		}()
	}
	wg.Wait()

	out := make([]string, 0, len(cands)/8)
	lower := make(map[string]struct{}, len(cands)/8)
	for i, c := range cands {
		if !keep[i] {
			continue
		}
		l := strings.ToLower(c)
		if _, dup := lower[l]; dup || len(l) > fsm.MaxBadlistLen {
			continue
		}
		lower[l] = struct{}{}
		out = append(out, l)
	}
	return out
}
