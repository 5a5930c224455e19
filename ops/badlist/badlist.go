package badlist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strings"
)

// File is the name of the embedded list: one lower-cased password a line,
// already filtered with pwquality.Filter.
const File = "default.txt.gz"

//go:embed default.txt.gz
var defaultGz []byte

// Default returns the shipped badlist, lower-cased and without duplicates.
func Default() ([]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(defaultGz))
	if err != nil {
		return nil, fmt.Errorf("open embedded badlist %s: %w", File, err)
	}
	defer zr.Close()
	var out []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		// The file is made by gen/ and already clean; trimming guards
		// against a hand edit leaving a stray carriage return.
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read embedded badlist %s: %w", File, err)
	}
	return out, nil
}
