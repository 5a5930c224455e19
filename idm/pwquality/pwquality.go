package pwquality

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/policy"
)

// MaxScoredRunes bounds what zxcvbn looks at: its cost grows faster than
// linearly (256 characters take about half a second, 1024 about 35 s), and
// a password whose first 100 characters are strong is strong.
const MaxScoredRunes = 100

// TopScore is the score zxcvbn must give (its scale is 0 to 4).
const TopScore = 4

// Reasons a password is refused (QualityError.Kind).
const (
	KindTooShort  = "too_short"
	KindWeak      = "weak"
	KindBadlisted = "badlisted"
)

// Feedback tells the user why a password is weak and how to do better.
type Feedback struct {
	Warning     string   `json:"warning"`
	Suggestions []string `json:"suggestions"`
}

// Error is the feedback as one sentence for the user.
func (f Feedback) Error() string {
	parts := make([]string, 0, 1+len(f.Suggestions))
	if f.Warning != "" {
		parts = append(parts, f.Warning)
	}
	parts = append(parts, f.Suggestions...)
	return strings.Join(parts, " ")
}

// QualityError is the refusal of a password: the reason (a sentence) and
// feedback for the person choosing it.
type QualityError struct {
	Kind     string
	Reason   string
	Feedback Feedback
}

func (e *QualityError) Error() string {
	if s := e.Feedback.Error(); s != "" {
		return e.Reason + ": " + s
	}
	return e.Reason
}

// Check returns nil when pw may be used, else a *QualityError. minLen is
// the resolved password-minimum-length (<= 0: the default); userInputs are
// words zxcvbn must treat as easy to guess, see UserInputs. st may be nil
// (no badlist check), e.g. for a client-side preview.
func Check(st *fsm.FSM, pw string, minLen int, userInputs []string) error {
	if minLen <= 0 {
		minLen = entry.DefaultPasswordMinimumLength
	}
	if n := utf8.RuneCountInString(pw); n < minLen {
		return &QualityError{Kind: KindTooShort,
			Reason: fmt.Sprintf("the password is too short: it has %d characters and needs at least %d", n, minLen),
			Feedback: Feedback{Warning: "Short passwords are quick to guess.",
				Suggestions: []string{fmt.Sprintf("Use at least %d characters.", minLen), suggestWords}}}
	}
	// The badlist is one local lookup, far cheaper than zxcvbn.
	if st != nil && st.IsBadlisted(strings.ToLower(pw)) {
		return &QualityError{Kind: KindBadlisted,
			Reason: "the password is on the list of breached passwords",
			Feedback: Feedback{Warning: "This password has appeared in a data breach, so attackers try it early.",
				Suggestions: []string{"Choose a password you have never used anywhere else.", suggestWords}}}
	}
	r := score(pw, userInputs)
	if r.Score >= TopScore {
		return nil
	}
	return &QualityError{Kind: KindWeak, Reason: "the password is too easy to guess", Feedback: feedback(r)}
}

// UserInputs are the words of an account an attacker would try first: its
// name, the words of its display name, its mail addresses and their parts,
// and the domain.
func UserInputs(e *entry.Entry, domain string) []string {
	var in []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			in = append(in, s)
		}
	}
	if e != nil {
		add(e.Name)
		add(e.DisplayName)
		for _, w := range strings.Fields(e.DisplayName) {
			add(w)
		}
		for _, m := range e.Mail {
			add(m)
			local, host, _ := strings.Cut(m, "@")
			add(local)
			add(host)
		}
	}
	add(domain)
	if label, _, ok := strings.Cut(domain, "."); ok {
		add(label)
	}
	return in
}

// score runs zxcvbn on the first MaxScoredRunes runes.
func score(pw string, userInputs []string) zxcvbn.Result {
	if utf8.RuneCountInString(pw) > MaxScoredRunes {
		pw = string([]rune(pw)[:MaxScoredRunes])
	}
	return zxcvbn.PasswordStrength(pw, userInputs)
}

// CheckAccount applies every rule a new password of acct must pass: the
// minimum length of the account's resolved policy, zxcvbn's top score with
// the account's own words as user inputs, and the badlist. Admin-set
// passwords and credential updates both go through it.
func CheckAccount(st *fsm.FSM, acct *entry.Entry, pw string) error {
	min := policy.ForAccount(st, acct.UUID).PasswordMinimumLength
	return Check(st, pw, min, UserInputs(acct, st.System().Domain))
}
