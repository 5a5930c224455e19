package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// badlistSeed makes the generated file the same on every run.
const badlistSeed = 20261125

// Words for the weak and passphrase-like lines (lower-case, common).
var badlistWords = strings.Fields(`password dragon monkey summer winter autumn spring shadow master
sunshine princess football baseball soccer hockey welcome letmein freedom flower purple orange
yellow silver golden tiger falcon eagle hunter ranger thunder killer batman superman pokemon
charlie michael jessica ashley daniel jordan hannah nicole andrew thomas robert maggie buster
coffee cookie cheese banana apple lemon pepper ginger butter chicken secret access login admin
qwerty asdfgh zxcvbn iloveyou trustno1 whatever computer internet garden castle river ocean`)

const badlistSymbols = "!@#$%&*?-_."

// writeBadlist writes n lines of a breach-list-like mix, deterministic for
// a seed: about 45 % weak (a common word with digits, a year or a symbol;
// keyboard walks; short words), 10 % repeats of earlier weak lines, and
// 45 % strong-looking (random 12–20 character strings, four-word
// passphrases with separators and digits) — the lines zxcvbn cannot
// reject, which the upload keeps.
func writeBadlist(w io.Writer, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	bw := bufio.NewWriterSize(w, 1<<20)
	word := func() string { return badlistWords[r.IntN(len(badlistWords))] }
	var recent []string
	for range n {
		var line string
		switch k := r.IntN(100); {
		case k < 20:
			line = word() + strconv.Itoa(r.IntN(1000))
		case k < 30:
			line = capitalise(word()) + strconv.Itoa(1950+r.IntN(76)) + string(badlistSymbols[r.IntN(len(badlistSymbols))])
		case k < 38:
			line = word() + word()
		case k < 45:
			line = []string{"123456", "12345678", "qwerty123", "1q2w3e4r", "abc123", "111111", "passw0rd", "zaq12wsx"}[r.IntN(8)] + strconv.Itoa(r.IntN(100))
		case k < 55 && len(recent) > 0:
			line = recent[r.IntN(len(recent))]
		case k < 80:
			line = randomString(r, 12+r.IntN(9))
		default:
			sep := string("-_. "[r.IntN(4)])
			line = strings.Join([]string{word(), capitalise(word()), word(), word()}, sep) + strconv.Itoa(r.IntN(100))
		}
		if len(recent) < 4096 {
			recent = append(recent, line)
		} else {
			recent[r.IntN(len(recent))] = line
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

const randomAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%&*?-_."

func randomString(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = randomAlphabet[r.IntN(len(randomAlphabet))]
	}
	return string(b)
}

// uploadSummary is what `gatehouse system pw-badlist upload` printed.
type uploadSummary struct {
	read, kept, added int
	filter            time.Duration // "filtered N lines in D" on standard error
}

var (
	uploadLine = regexp.MustCompile(`read (\d+) lines from \d+ files?; dropped (\d+) .*; added (\d+) new passwords`)
	filterLine = regexp.MustCompile(`filtered \d+ lines in (\S+) on`)
)

// parseUpload reads the CLI's summary (stdout) and filtering time (stderr).
func parseUpload(stdout, stderr string) (uploadSummary, error) {
	var s uploadSummary
	m := uploadLine.FindStringSubmatch(stdout)
	if m == nil {
		return s, fmt.Errorf("no summary in the upload's output %q", stdout)
	}
	read, _ := strconv.Atoi(m[1])
	dropped, _ := strconv.Atoi(m[2])
	added, _ := strconv.Atoi(m[3])
	s.read, s.kept, s.added = read, read-dropped, added
	if f := filterLine.FindStringSubmatch(stderr); f != nil {
		s.filter, _ = time.ParseDuration(f[1])
	}
	return s, nil
}

// badlistUpload: generate opt.badlist lines, log the CLI in as admin with
// a privileged session (password on stdin, token file in a temp dir), and
// time `gatehouse system pw-badlist upload FILE` end to end: reading,
// filtering with zxcvbn on every core, and the chunked upload (one Raft
// command per 20,000 passwords) to the leader.
func (b *bench) badlistUpload(ctx context.Context) error {
	file := filepath.Join(b.c.dir, "badlist.txt")
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("badlist: %w", err)
	}
	b.logf("badlist: writing %d lines to %s", b.opt.badlist, file)
	err = writeBadlist(f, b.opt.badlist, badlistSeed)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("badlist: write %s: %w", file, err)
	}
	tokDir, err := os.MkdirTemp("", "ghb-token-")
	if err != nil {
		return fmt.Errorf("badlist: %w", err)
	}
	defer os.RemoveAll(tokDir)
	url := b.leader.API
	env := append(os.Environ(), "GATEHOUSE_TOKEN_FILE="+filepath.Join(tokDir, "tokens.json"))
	cli := func(stdin string, args ...string) (string, string, error) {
		cmd := exec.CommandContext(ctx, b.bin, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("gatehouse %s: %w\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		return out.String(), errOut.String(), err
	}
	conn := []string{"--url", url, "--ca", b.c.info.CA}
	pw := b.c.info.AdminPassword + "\n"
	// The CLI filters every line before its first write, and filtering a
	// million lines on this machine takes about as long as the default
	// write window (privilege expiry, 600 s) its session gets at login:
	// system_admins gets the longest window (3600 s) first, then admin
	// reauthenticates so that its session has it.
	steps := [][]string{
		append([]string{"login", "--name", "admin", "--privileged"}, conn...),
		append([]string{"group", "account-policy", "enable"}, append(conn, "system_admins")...),
		append([]string{"group", "account-policy", "privilege-expiry"}, append(conn, "system_admins", "3600")...),
		append([]string{"reauth"}, conn...),
	}
	for _, st := range steps {
		if _, _, err := cli(pw, st...); err != nil {
			return fmt.Errorf("badlist: %w", err)
		}
	}
	b.logf("badlist: gatehouse system pw-badlist upload (%d lines) to %s", b.opt.badlist, b.leader.ID)
	start := time.Now()
	stdout, stderr, err := cli("", append(append([]string{"system", "pw-badlist", "upload"}, conn...), file)...)
	took := time.Since(start)
	if err != nil {
		return fmt.Errorf("badlist: %w", err)
	}
	s, err := parseUpload(stdout, stderr)
	if err != nil {
		return fmt.Errorf("badlist: %w", err)
	}
	b.figures = append(b.figures,
		figure{fmt.Sprintf("badlist upload of %d lines, end to end", b.opt.badlist), fmt.Sprintf("%.1f s", took.Seconds()),
			fmt.Sprintf("%.0f lines/s; the CLI process, to %s (leader)", float64(s.read)/took.Seconds(), b.leader.ID)},
		figure{"badlist: lines read / kept / added", fmt.Sprintf("%d / %d / %d", s.read, s.kept, s.added),
			"kept: not a comment, not a duplicate, not already refused by zxcvbn or the length rule"},
		figure{"badlist: filtering (zxcvbn on every core)", fmt.Sprintf("%.1f s", s.filter.Seconds()),
			fmt.Sprintf("upload of %d passwords in %d commands: the rest", s.kept, (s.kept+19999)/20000)},
	)
	return nil
}
