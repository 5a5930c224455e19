package pwquality

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// breachLike makes n lines shaped like a breach list: most short (which
// the length rule drops before zxcvbn), many word-and-digit mixes, some
// repeats and some long random strings (the costly ones to score).
func breachLike(n int) []string {
	words := []string{"monkey", "dragon", "sunshine", "princess", "football", "shadow", "master", "letmein",
		"trustno1", "baseball", "superman", "michael", "jennifer", "hunter", "starwars", "whatever", "chocolate"}
	r := rand.New(rand.NewPCG(1, 2))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%"
	out := make([]string, n)
	for i := range out {
		switch k := r.IntN(10); {
		case k < 5:
			out[i] = fmt.Sprintf("%s%d", words[r.IntN(len(words))], r.IntN(1000))
		case k < 8:
			out[i] = fmt.Sprintf("%s%s%d", words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(10000))
		case k < 9 && i > 0:
			out[i] = out[r.IntN(i)]
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
// time of a badlist upload (one million lines / lines/s).
func BenchmarkFilter(b *testing.B) {
	lines := breachLike(20000)
	workers := runtime.NumCPU()
	b.ResetTimer()
	for b.Loop() {
		Filter(lines, workers, nil)
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
