package ssehub

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// channelRules say which channels a request may use: patterns in which
// '*' matches any run of name characters and Caddy placeholders stand for
// request values, such as "user-{http.auth.user.id}". No rules means any
// channel.
type channelRules []string

// validate checks the patterns once the placeholders are blanked out.
func (rules channelRules) validate(option string) error {
	for _, p := range rules {
		literal, err := caddy.NewReplacer().ReplaceFunc(p, func(string, any) (any, error) { return "x", nil })
		if err != nil || hub.ValidatePattern(literal) != nil {
			return fmt.Errorf("%s %q: must be a channel pattern (%s, * as a wildcard) with optional placeholders", option, p, hub.ChannelNameRule)
		}
	}
	return nil
}

// allows reports whether every channel matches some rule for this request.
// A placeholder value is taken literally and must itself be a valid
// channel name: an empty or unknown placeholder, or a value with '*' or
// other characters outside the alphabet, voids the rule, so a user ID of
// "*" cannot turn "user-{http.auth.user.id}" into "user-*".
func (rules channelRules) allows(repl *caddy.Replacer, channels []string) (denied string, ok bool) {
	if len(rules) == 0 {
		return "", true
	}
	patterns := rules.resolve(repl)
	for _, ch := range channels {
		if !matchesAny(patterns, ch) {
			return ch, false
		}
	}
	return "", true
}

func (rules channelRules) resolve(repl *caddy.Replacer) []string {
	patterns := make([]string, 0, len(rules))
	for _, rule := range rules {
		p, err := repl.ReplaceFunc(rule, func(key string, val any) (any, error) {
			s := caddy.ToString(val)
			if hub.ValidateChannelName(s) != nil {
				return nil, fmt.Errorf("placeholder %s gives no usable value", key)
			}
			return s, nil
		})
		if err == nil && !strings.Contains(p, "{") {
			patterns = append(patterns, p)
		}
	}
	return patterns
}

func matchesAny(patterns []string, channel string) bool {
	for _, p := range patterns {
		if hub.MatchPattern(p, channel) {
			return true
		}
	}
	return false
}
