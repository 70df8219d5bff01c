package ssehub

import (
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestChannelRules(t *testing.T) {
	rules := channelRules{"user-{user}", "public-*", "team-{team}-*"}
	cases := []struct {
		name     string
		vars     map[string]any
		channels []string
		allowed  bool
	}{
		{"own channel", map[string]any{"user": "alice"}, []string{"user-alice"}, true},
		{"wildcard", nil, []string{"public-news", "public-"}, true},
		{"another user's", map[string]any{"user": "alice"}, []string{"user-bob"}, false},
		{"one denied of several", map[string]any{"user": "alice"}, []string{"user-alice", "secret"}, false},
		{"placeholder wildcard is literal", map[string]any{"user": "*"}, []string{"user-bob"}, false},
		{"placeholder empty", map[string]any{"user": ""}, []string{"user-"}, false},
		{"placeholder unknown", nil, []string{"user-"}, false},
		{"placeholder outside the alphabet", map[string]any{"user": "a/b"}, []string{"user-a/b"}, false},
		{"placeholder and wildcard", map[string]any{"team": "red"}, []string{"team-red-chat"}, true},
		{"other team", map[string]any{"team": "red"}, []string{"team-blue-chat"}, false},
		{"non-string value", map[string]any{"user": 42}, []string{"user-42"}, true},
	}
	for _, c := range cases {
		repl := caddy.NewReplacer()
		for k, v := range c.vars {
			repl.Set(k, v)
		}
		if _, ok := rules.allows(repl, c.channels); ok != c.allowed {
			t.Errorf("%s: allows(%v) = %v, want %v", c.name, c.channels, ok, c.allowed)
		}
	}
	if _, ok := channelRules(nil).allows(caddy.NewReplacer(), []string{"anything"}); !ok {
		t.Error("no rules must allow any channel")
	}
}

func TestChannelRulesValidate(t *testing.T) {
	for _, good := range []string{"user-{http.auth.user.id}", "public-*", "*", "a:{x}:b"} {
		if err := (channelRules{good}).validate("allow_subscribe"); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{"", "with space", "a/b", "{x}/y"} {
		if err := (channelRules{bad}).validate("allow_subscribe"); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
