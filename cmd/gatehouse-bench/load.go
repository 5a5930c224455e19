package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// opFunc performs one operation. seq is unique across all workers of a run
// (0, 1, 2, ...), so callers can derive unique names from it.
type opFunc func(ctx context.Context, worker int, seq int64) error

// loadResult is what one closed-loop run measured.
type loadResult struct {
	Workers  int
	OK       int64
	Errors   int64
	FirstErr string
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// Rate is successful operations per second of wall time.
func (r loadResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// runLoad runs workers closed-loop goroutines, each issuing op back to back,
// until dur has passed (when dur > 0) or total operations have been started
// (when total > 0). Operations in flight at the deadline are allowed to
// finish rather than being cancelled, so they count as what they are and not
// as errors; Elapsed therefore runs until the last one returns.
func runLoad(ctx context.Context, workers int, dur time.Duration, total int64, op opFunc) loadResult {
	var (
		next     atomic.Int64
		errs     atomic.Int64
		errOnce  sync.Once
		firstErr string
		wg       sync.WaitGroup
	)
	lats := make([][]time.Duration, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pre-size roughly: most runs do a few thousand ops per worker at most.
			mine := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				if dur > 0 && time.Since(start) >= dur {
					break
				}
				seq := next.Add(1) - 1
				if total > 0 && seq >= total {
					break
				}
				t0 := time.Now()
				err := op(ctx, w, seq)
				if err != nil {
					if ctx.Err() != nil {
						break // interrupted: not a server error
					}
					errs.Add(1)
					errOnce.Do(func() { firstErr = err.Error() })
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			lats[w] = mine
		}()
	}
	wg.Wait()
	res := loadResult{Workers: workers, Errors: errs.Load(), FirstErr: firstErr, Elapsed: time.Since(start)}
	all := slices.Concat(lats...)
	res.OK = int64(len(all))
	slices.Sort(all)
	res.P50, res.P99 = percentile(all, 0.50), percentile(all, 0.99)
	return res
}

// percentile uses the nearest-rank method on sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}
