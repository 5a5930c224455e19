package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// loadRow is one closed-loop measurement of the table.
type loadRow struct {
	What string
	Res  loadResult
}

// figure is a single value (bound, memory, time).
type figure struct {
	What, Value, Note string
}

// printTables writes both tables in Markdown so they can go straight into
// docs/benchmarks.md.
func printTables(w io.Writer, loads []loadRow, figs []figure) {
	if len(loads) > 0 {
		fmt.Fprintln(w, "| measurement | clients | ok | errors | ops/s | p50 | p99 |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
		for _, l := range loads {
			r := l.Res
			fmt.Fprintf(w, "| %s | %d | %d | %d | %.0f | %s | %s |\n",
				l.What, r.Workers, r.OK, r.Errors, r.Rate(), fmtDur(r.P50), fmtDur(r.P99))
		}
		for _, l := range loads {
			if l.Res.FirstErr != "" {
				fmt.Fprintf(w, "\nfirst error of %q (%d clients): %s\n", l.What, l.Res.Workers, oneLine(l.Res.FirstErr))
			}
		}
		fmt.Fprintln(w)
	}
	if len(figs) > 0 {
		fmt.Fprintln(w, "| figure | value | note |")
		fmt.Fprintln(w, "|---|---:|---|")
		for _, f := range figs {
			fmt.Fprintf(w, "| %s | %s | %s |\n", f.What, f.Value, f.Note)
		}
		fmt.Fprintln(w)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// fmtDur prints a duration with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func fmtKiB(kib int64) string {
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}
