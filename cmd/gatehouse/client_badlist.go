package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/gatehouse-idm/gatehouse/idm/pwquality"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// Upload chunks stay within one badlist command (20,000 passwords) and
// well within the server's 1 MiB request body.
const (
	badlistChunk      = 20000
	badlistChunkBytes = 768 << 10
)

// pwBadlistCommand is `gatehouse system pw-badlist show|upload`.
func pwBadlistCommand() *cli.Command {
	return &cli.Command{
		Name:  "pw-badlist",
		Usage: "the list of breached passwords nobody may use (append-only)",
		Subcommands: []*cli.Command{
			{
				Name: "show", Usage: "print the badlisted passwords, one a line",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					b, _, err := callAPI(c, 0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) (*apiclient.Badlist, error) {
						return cl.Badlist(ctx)
					})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, b)
					}
					w := bufio.NewWriter(c.App.Writer)
					for _, p := range b.Passwords {
						w.WriteString(p)
						w.WriteByte('\n')
					}
					if err := w.Flush(); err != nil {
						return err
					}
					fmt.Fprintf(c.App.ErrWriter, "%d passwords\n", b.Count)
					return nil
				},
			},
			{
				Name:  "upload",
				Usage: "append the passwords of files (one a line), leaving out those zxcvbn and the length rule reject anyway",
				Description: "Reads every FILE, drops comments (#…), duplicates, passwords shorter than 10 characters and\n" +
					"those zxcvbn already scores below its top score, using every core, then appends the rest.",
				ArgsUsage: "FILE...",
				Flags:     connFlags(),
				Action:    uploadBadlist,
			},
		},
	}
}

func uploadBadlist(c *cli.Context) error {
	type summary struct{ read, kept, added int }
	s, args, err := callAPI(c, 1, -1, func(ctx context.Context, cl *apiclient.Client, files []string) (summary, error) {
		var s summary
		// Filtering a large list takes minutes: refuse up front rather
		// than fail at the first upload once the write window is over.
		if cur, err := cl.Session(ctx); err != nil {
			return s, err
		} else if time.Until(cur.ReadWriteUntil) < time.Minute {
			return s, fmt.Errorf("this session is read-only or its write window ends within a minute: run gatehouse reauth first")
		}
		lines, err := readLines(files)
		if err != nil {
			return s, err
		}
		s.read = len(lines)
		start := time.Now()
		bar := newBar(c.App.ErrWriter, len(lines), "filtering")
		kept := pwquality.Filter(lines, runtime.NumCPU(), func(done int) { bar.SetCurrent(int64(done)) })
		bar.Finish()
		s.kept = len(kept)
		fmt.Fprintf(c.App.ErrWriter, "filtered %d lines in %s on %d cores\n", len(lines), time.Since(start).Round(time.Millisecond), runtime.NumCPU())
		bar = newBar(c.App.ErrWriter, len(kept), "uploading")
		defer bar.Finish()
		for len(kept) > 0 {
			n := chunkLen(kept)
			added, err := cl.AppendBadlist(ctx, kept[:n])
			s.added += added
			if err != nil {
				if s.added > 0 {
					err = fmt.Errorf("%w (%d new passwords were added before this)", err, s.added)
				}
				return s, err
			}
			bar.Add(n)
			kept = kept[n:]
		}
		return s, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "read %d lines from %d files; dropped %d (comments, duplicates, or already refused by zxcvbn or the length rule); added %d new passwords (%d were already listed)\n",
		s.read, len(args), s.read-s.kept, s.added, s.kept-s.added)
	return nil
}

// chunkLen is how many passwords of ps go into the next request.
func chunkLen(ps []string) int {
	size := 0
	for i, p := range ps {
		size += len(p) + 3 // quotes and comma
		if i == badlistChunk || size > badlistChunkBytes {
			return i
		}
	}
	return len(ps)
}

func readLines(files []string) ([]string, error) {
	var lines []string
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("open badlist file: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	return lines, nil
}

// newBar is a progress bar on w (standard error: standard output stays
// for the summary). Into a log file rather than a terminal it redraws
// rarely, so the log stays readable.
func newBar(w io.Writer, total int, what string) *pb.ProgressBar {
	bar := pb.New(total).SetWriter(w).SetTemplateString(`{{string . "what"}} {{counters . }} {{bar . }} {{percent . }} {{speed . "%s lines/s"}}`)
	// "\r" also into a file, so that the last state ends with a newline.
	bar.Set("what", what).Set(pb.ReturnSymbol, "\r")
	refresh := 5 * time.Second
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		refresh = 200 * time.Millisecond
	}
	bar.SetRefreshRate(refresh)
	return bar.Start()
}
