// Command gen rebuilds the default badlist from breached-password files:
//
//	go run ./ops/badlist/gen -o ops/badlist/default.txt.gz SOURCE...
//
// It filters the sources with pwquality.Filter on every core (what zxcvbn
// or the length rule rejects anyway is left out) and writes the result
// gzipped, in the order of the sources (most common first). SOURCES.md
// says which files were used and how to get them.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/pwquality"
)

func main() {
	out := flag.String("o", "default.txt.gz", "output `FILE`")
	flag.Parse()
	if err := run(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string, sources []string) error {
	if len(sources) == 0 {
		return fmt.Errorf("no source files given")
	}
	var lines []string
	for _, s := range sources {
		f, err := os.Open(s)
		if err != nil {
			return fmt.Errorf("open source: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read %s: %w", s, err)
		}
	}
	start := time.Now()
	kept := pwquality.Filter(lines, runtime.NumCPU(), nil)
	took := time.Since(start)
	slog.Info("filtered", "lines", len(lines), "kept", len(kept), "seconds", took.Seconds(),
		"lines_per_second", int(float64(len(lines))/took.Seconds()), "workers", runtime.NumCPU())

	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		return err
	}
	// A fixed header (no name, no time) keeps the file reproducible.
	w := bufio.NewWriter(zw)
	for _, l := range kept {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return f.Close()
}
