package hub

import (
	"strings"
)

// MaxChannelNameLength bounds channel names.
const MaxChannelNameLength = 128

// ChannelNameRule is the user-facing description of valid channel names,
// used in every error about one.
const ChannelNameRule = "1-128 characters from A-Z a-z 0-9 and - _ . : @, other than . and .."

// ValidateChannelName checks a channel name. The alphabet is URL-safe, so a
// name can be used as a path segment or query value without escaping, and
// it has no comma, so "?channel=a,b" can name two channels. "." and ".."
// are refused: as path segments they are removed when a URL is cleaned
// (Caddy's path matchers, the admin endpoint), so such a channel could not
// be subscribed to by path nor reached by the admin routes.
func ValidateChannelName(name string) error {
	if name == "" || len(name) > MaxChannelNameLength || name == "." || name == ".." {
		return Errorf(ErrInvalid, "channel name %q: must be %s", truncate(name), ChannelNameRule)
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return Errorf(ErrInvalid, "channel name %q: must be %s", truncate(name), ChannelNameRule)
		}
	}
	return nil
}

// ValidateHubName checks a hub name; hubs use the channel alphabet.
func ValidateHubName(name string) error {
	if err := ValidateChannelName(name); err != nil {
		return Errorf(ErrInvalid, "hub name %q: must be %s", truncate(name), ChannelNameRule)
	}
	return nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == ':' || c == '@'
}

// ValidatePattern checks an on-demand channel pattern: a channel name in
// which '*' stands for any run of name characters (possibly empty).
func ValidatePattern(p string) error {
	if p == "" || len(p) > MaxChannelNameLength {
		return Errorf(ErrInvalid, "channel pattern %q: must be %s, with * as a wildcard", truncate(p), ChannelNameRule)
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '*' && !isNameByte(p[i]) {
			return Errorf(ErrInvalid, "channel pattern %q: must be %s, with * as a wildcard", truncate(p), ChannelNameRule)
		}
	}
	return nil
}

// MatchPattern reports whether name matches the on-demand pattern p.
func MatchPattern(p, name string) bool {
	star := strings.IndexByte(p, '*')
	if star < 0 {
		return p == name
	}
	prefix := p[:star]
	if !strings.HasPrefix(name, prefix) {
		return false
	}
	name, p = name[len(prefix):], p[star+1:]
	// Each later literal piece must occur in order; the last one anchors
	// at the end.
	pieces := strings.Split(p, "*")
	for i, piece := range pieces {
		if i == len(pieces)-1 {
			return strings.HasSuffix(name, piece)
		}
		j := strings.Index(name, piece)
		if j < 0 {
			return false
		}
		name = name[j+len(piece):]
	}
	return true
}

// truncate keeps error messages short when a client sends a huge name.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
