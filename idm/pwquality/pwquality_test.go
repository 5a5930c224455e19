package pwquality

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/fsm/fsmtest"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

func qualityError(t *testing.T, err error, kind string) *QualityError {
	t.Helper()
	var qe *QualityError
	if !errors.As(err, &qe) {
		t.Fatalf("want a *QualityError (%s), got %v", kind, err)
	}
	if qe.Kind != kind {
		t.Fatalf("refused as %s (%v), want %s", qe.Kind, qe, kind)
	}
	if qe.Reason == "" || qe.Feedback.Warning == "" || len(qe.Feedback.Suggestions) == 0 {
		t.Fatalf("a refusal needs a reason and feedback: %+v", qe)
	}
	return qe
}

func TestPassword123IsRefusedWithFeedback(t *testing.T) {
	qe := qualityError(t, Check(nil, "password123", 10, nil), KindWeak)
	if !strings.Contains(qe.Feedback.Warning, "commonly used password") && !strings.Contains(qe.Feedback.Warning, "most used") {
		t.Fatalf("feedback should say it is a common password: %+v", qe.Feedback)
	}
}

func TestAPasswordMadeFromTheAccountNameIsRefusedWithFeedback(t *testing.T) {
	alice := &entry.Entry{Name: "wilhelmina", DisplayName: "Wilhelmina Quarterstaff", Mail: []string{"wq@example.com"}}
	in := UserInputs(alice, "example.com")
	pw := "wilhelminaquarterstaff"
	// The same shape of password with words the account does not carry
	// passes, so the refusal below is due to the account's own details.
	if err := Check(nil, "brontosaurusquarterback", 10, in); err != nil {
		t.Fatalf("control password refused: %v", err)
	}
	qe := qualityError(t, Check(nil, pw, 10, in), KindWeak)
	if !strings.Contains(qe.Feedback.Warning, "account name") {
		t.Fatalf("feedback should point at the account's own details: %+v", qe.Feedback)
	}
}

func TestShortPasswordsAreRefusedBeforeScoring(t *testing.T) {
	qe := qualityError(t, Check(nil, "Xk#9!vQz", 10, nil), KindTooShort)
	if !strings.Contains(qe.Reason, "at least 10") {
		t.Fatalf("reason %q", qe.Reason)
	}
	// The minimum counts characters, not bytes.
	if err := Check(nil, "ñandúçøœ€ßðþ🦊", 14, nil); err == nil || err.(*QualityError).Kind != KindTooShort {
		t.Fatalf("13 runes against a minimum of 14: %v", err)
	}
}

func TestOnlyTheFirstHundredCharactersAreScored(t *testing.T) {
	long := "correct horse battery staple gravel anvil " + strings.Repeat("z", 5000)
	start := time.Now()
	if err := Check(nil, long, 10, nil); err != nil {
		t.Fatalf("long strong password refused: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("scoring a 5000-character password took %v", d)
	}
}

func TestABadlistedStrongLookingPasswordIsRefused(t *testing.T) {
	f, err := fsm.Open(filepath.Join(t.TempDir(), "state.db"), fsm.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	pw := "Tr0ub4dour&3-Gravel-Anvil"
	if err := Check(f, pw, 10, nil); err != nil {
		t.Fatalf("before badlisting: %v", err)
	}
	cmd, err := fsm.NewCommand(fsm.TypeBadlistAppend, 1, "req-1", 1, fsm.BadlistAppend{Passwords: Filter([]string{pw}, 1, nil)})
	if err != nil {
		t.Fatal(err)
	}
	// badlist.append needs a system actor; a fresh FSM without init has
	// none, so the command is applied as the cluster's own work would be.
	if res, err := (&fsmtest.Proposer{FSM: f}).Apply(context.Background(), cmd); err != nil || res.Err != nil {
		t.Fatalf("badlist append: %v %+v", err, res.Err)
	}
	// The badlist matches whatever the case.
	qe := qualityError(t, Check(f, strings.ToUpper(pw), 10, nil), KindBadlisted)
	if !strings.Contains(qe.Feedback.Warning, "breach") {
		t.Fatalf("feedback should say why: %+v", qe.Feedback)
	}
}

func TestFilterKeepsOnlyWhatTheRulesWouldNotRejectAlready(t *testing.T) {
	in := []string{
		"#!comment: a header",
		"  ",
		"password123",                   // zxcvbn rejects it
		"short1!",                       // too short
		"  Gravel-Anvil-Octopus-42  ",   // kept, trimmed and lower-cased
		"gravel-anvil-octopus-42",       // same once lower-cased
		"Gravel-Anvil-Octopus-42",       // exact duplicate
		"qwertyuiopasdfghjkl",           // keyboard walk
		"xylophone-barracuda-tundra-77", // kept
		strings.Repeat("a", 300),        // too long for the badlist
	}
	var last, calls int
	got := Filter(in, 3, func(done int) {
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		last, calls = done, calls+1
	})
	want := []string{"gravel-anvil-octopus-42", "xylophone-barracuda-tundra-77"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Filter = %q, want %q", got, want)
	}
	if last != len(in) || calls == 0 {
		t.Fatalf("progress ended at %d after %d calls, want %d", last, calls, len(in))
	}
}
