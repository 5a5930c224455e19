package pwquality

import (
	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
)

// suggestWords is the one piece of advice that always helps: length from
// unrelated words beats symbols and substitutions.
const suggestWords = "A few unrelated words together make a long password that is still easy to remember."

// feedback explains a weak score from the patterns zxcvbn matched. The
// port we use computes no feedback text of its own, so these sentences
// are ours. A match on the account's own details is named first, since it
// is the most personal and the most useful thing to fix; otherwise the
// longest match (the biggest part of the password) explains the score.
func feedback(r zxcvbn.Result) Feedback {
	var worst, mine *match.Match
	for _, m := range r.Sequence {
		if m.Pattern == "bruteforce" {
			continue
		}
		if m.Pattern == "dictionary" && m.DictionaryName == "user_inputs" && mine == nil {
			mine = m
		}
		if worst == nil || len(m.Token) > len(worst.Token) {
			worst = m
		}
	}
	if mine != nil {
		worst = mine
	}
	f := Feedback{Warning: "This password is easy to guess."}
	if worst != nil {
		f = explain(worst, len(r.Sequence) == 1)
	}
	f.Suggestions = append(f.Suggestions, suggestWords)
	return f
}

func explain(m *match.Match, whole bool) Feedback {
	var f Feedback
	switch m.Pattern {
	case "dictionary":
		f.Warning = dictionaryWarning(m, whole)
		if m.Reversed {
			f.Suggestions = append(f.Suggestions, "Writing a word backwards hardly slows an attacker down.")
		}
		if m.L33t {
			f.Suggestions = append(f.Suggestions, "Swapping letters for look-alike digits or symbols (such as @ for a) is one of the first things attackers try.")
		}
		if m.UppercaseVariations > 1 {
			f.Suggestions = append(f.Suggestions, "Capital letters in the usual places (first letter, or all of them) add little.")
		}
	case "spatial":
		f.Warning = "Keys that sit next to each other on a keyboard (like qwerty or zxcvbn) are easy to guess."
		f.Suggestions = []string{"Avoid keyboard patterns."}
	case "repeat":
		f.Warning = "Repeated characters or chunks (like aaa or abcabc) add almost nothing."
		f.Suggestions = []string{"Avoid repeating words and characters."}
	case "sequence":
		f.Warning = "Runs such as abcd or 6543 are easy to guess."
		f.Suggestions = []string{"Avoid sequences of letters or digits."}
	case "regex":
		if m.RegexName == "recent_year" {
			f.Warning = "Recent years are among the first things attackers try."
			f.Suggestions = []string{"Avoid years that mean something to you."}
		} else {
			f.Warning = "This part of the password follows a common pattern."
		}
	case "date":
		f.Warning = "Dates, such as birthdays or anniversaries, are easy to guess."
		f.Suggestions = []string{"Avoid dates and years that are connected to you."}
	default:
		f.Warning = "This password is easy to guess."
	}
	return f
}

func dictionaryWarning(m *match.Match, whole bool) string {
	switch m.DictionaryName {
	case "user_inputs":
		return "It contains your account name, display name, mail address or domain, which are the first things an attacker tries."
	case "passwords":
		switch {
		case whole && m.Rank <= 10 && !m.L33t && !m.Reversed:
			return "This is one of the ten most used passwords."
		case whole && m.Rank <= 100 && !m.L33t && !m.Reversed:
			return "This is one of the hundred most used passwords."
		}
		return "It is built on a commonly used password."
	case "english_wikipedia", "us_tv_and_film":
		if whole {
			return "A single common word is easy to guess."
		}
		return "Common words and phrases are easy to guess on their own."
	case "surnames", "male_names", "female_names":
		return "Names and surnames are easy to guess, alone or together."
	}
	return "It is built on a common word."
}
