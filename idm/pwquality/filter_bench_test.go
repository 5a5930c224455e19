package pwquality

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// breachLike makes n lines shaped like a breach list. The proportions
// follow the top million of the 10-million-password set (ops/badlist):
// about 85% are shorter than 10 characters (dropped before zxcvbn), a few
// repeat, and about 11% are long enough to be scored: word-and-digit mixes
// and random strings.
func breachLike(n int) []string {
	words := []string{"monkey", "dragon", "sunshine", "princess", "football", "shadow", "master", "letmein",
		"trustno1", "baseball", "superman", "michael", "jennifer", "hunter", "starwars", "whatever", "chocolate"}
	r := rand.New(rand.NewPCG(1, 2))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%"
	out := make([]string, n)
	for i := range out {
		switch k := r.IntN(100); {
		case k < 85:
			out[i] = fmt.Sprintf("%.6s%d", words[r.IntN(len(words))], r.IntN(1000))
		case k < 89 && i > 0:
			out[i] = out[r.IntN(i)]
		case k < 95:
			out[i] = fmt.Sprintf("%s%s%d", words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(10000))
		default:
			b := make([]byte, 10+r.IntN(10))
			for j := range b {
				b[j] = alnum[r.IntN(len(alnum))]
			}
			out[i] = string(b)
		}
	}
	return out
}

// BenchmarkFilter reports lines/s over all cores, the figure behind the
// time of a badlist upload (one million lines / lines/s), and the cost of
// scoring one line that reaches zxcvbn (scored-µs/line, per core).
func BenchmarkFilter(b *testing.B) {
	lines := breachLike(50000)
	scored := 0
	for _, l := range lines {
		if len(l) >= 10 {
			scored++
		}
	}
	workers := runtime.NumCPU()
	for b.Loop() {
		Filter(lines, workers, nil)
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e6*float64(workers)/float64(scored*b.N), "scored-µs/line")
}
