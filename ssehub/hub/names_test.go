package hub

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateChannelName(t *testing.T) {
	valid := []string{
		"a", "Z", "0", "...", ".a", "a..", "news", "room:42", "user@example.com", "a-b_c.d:e@f",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:@",
		strings.Repeat("x", MaxChannelNameLength),
	}
	invalid := []string{
		"", strings.Repeat("x", MaxChannelNameLength+1), "a b", "a,b", "a/b", "a?b", "a#b", "a%20",
		".", "..", "a*", "a\nb", "a\x00", "é", "😀", "a+b", "a=b", "a&b", "a;b", "[a]", "~a", "a\\b", "'a'", "\"a\"",
	}
	for _, name := range valid {
		if err := ValidateChannelName(name); err != nil {
			t.Errorf("ValidateChannelName(%q) = %v, want nil", name, err)
		}
		if err := ValidateHubName(name); err != nil {
			t.Errorf("ValidateHubName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range invalid {
		err := ValidateChannelName(name)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateChannelName(%q) = %v, want an ErrInvalid", name, err)
			continue
		}
		if !strings.Contains(err.Error(), ChannelNameRule) {
			t.Errorf("error %q does not say what is accepted", err)
		}
		if err := ValidateHubName(name); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateHubName(%q) = %v, want an ErrInvalid", name, err)
		}
	}
	// A huge name is cut short in the message.
	err := ValidateChannelName(strings.Repeat("y", 10000))
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("error for a 10000-byte name is %d bytes long", len(err.Error()))
	}
}

func TestValidatePattern(t *testing.T) {
	valid := []string{"*", "room:*", "*:log", "a*b*c", "**", "exact", strings.Repeat("*", MaxChannelNameLength)}
	invalid := []string{"", "room *", "a,*", "a/*", "*?", strings.Repeat("*", MaxChannelNameLength+1), "é*"}
	for _, p := range valid {
		if err := ValidatePattern(p); err != nil {
			t.Errorf("ValidatePattern(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range invalid {
		if err := ValidatePattern(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidatePattern(%q) = %v, want an ErrInvalid", p, err)
		}
	}
}

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, name string
		match         bool
	}{
		{"news", "news", true},
		{"news", "news2", false},
		{"news", "new", false},
		{"news", "xnews", false},

		{"room:*", "room:1", true},
		{"room:*", "room:", true}, // the star matches the empty run
		{"room:*", "room", false},
		{"room:*", "xroom:1", false},
		{"room:*", "Room:1", false},

		{"*:log", "app:log", true},
		{"*:log", ":log", true},
		{"*:log", "app:log2", false},
		{"*:log", "app:lo", false},

		{"a*b*c", "abc", true},
		{"a*b*c", "a1b2c", true},
		{"a*b*c", "abbbc", true},
		{"a*b*c", "acbc", true},
		{"a*b*c", "ac", false},
		{"a*b*c", "abcx", false},
		{"a*b*c", "xabc", false},
		{"a*b*c", "ab", false},
		{"a*a", "a", false}, // prefix and suffix may not overlap
		{"a*a", "aa", true},
		{"ab*ab", "ab", false},
		{"ab*ab", "abab", true},
		{"a*ba*a", "aba", false},
		{"a*ba*a", "abaa", true},
		{"*ab*b", "abb", true},

		{"*", "anything", true},
		{"**", "x", true},
		{"a**", "a", true},
		{"*x*", "x", true},
		{"*x*", "y", false},
	}
	for _, tt := range tests {
		if got := MatchPattern(tt.pattern, tt.name); got != tt.match {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.match)
		}
	}
}
