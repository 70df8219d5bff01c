package caddyfile

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2"
	caddyfile "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/ssehub/sse_hub/ssehub"
)

// FuzzDirective parses arbitrary sse_hub directives. The parser must never
// panic; what it accepts must become JSON that Caddy loads back into the
// handler (strictly, as it loads modules) unchanged, and that the handler's
// Validate then accepts or refuses with an error, never a panic. Run with
//
//	go test -run '^$' -fuzz '^FuzzDirective$' -fuzztime 30s ./caddyfile
//
// Seeds: the f.Add calls below and testdata/fuzz/FuzzDirective.
func FuzzDirective(f *testing.F) {
	for _, seed := range []string{
		"",
		"/events/*",
		"{\n hub chat\n channel news\n channel alerts {\n history_size 50\n history_max_age 10m\n }\n}",
		"{\n on_demand room-* user-*\n max_on_demand_channels 200\n subscriber_buffer 4096\n}",
		"{\n channel_from {http.request.uri.path.1} user-{http.auth.user.id}\n channel_query topic\n last_event_id_query since\n}",
		"{\n retry 5s\n heartbeat 20s\n history_size 0\n history_max_age 0\n}",
		"{\n retry -1s\n heartbeat -5m\n history_max_age -1h\n}",
		"{\n history_size 9223372036854775807\n subscriber_buffer 9223372036854775807\n}",
		"{\n channel ../x\n on_demand **\n hub \"a b\"\n}",
		"{\n channel `a\nb` {\n }\n}",
		"{\n channel a {\n channel b\n }\n}",
		"{\n hub <<EOF\n  x\n  EOF\n}",
		"{\n}\n}\n{",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := caddyfile.Tokenize([]byte("sse_hub "+input), "Caddyfile")
		if err != nil {
			return // the lexer's business, not the directive's
		}
		var h ssehub.Handler
		if err := unmarshal(caddyfile.NewDispenser(tokens), &h); err != nil {
			return
		}
		adapted, err := json.Marshal(&h)
		if err != nil {
			t.Fatalf("the parsed handler does not encode as JSON: %v", err)
		}
		var loaded ssehub.Handler
		if err := caddy.StrictUnmarshalJSON(adapted, &loaded); err != nil {
			t.Fatalf("Caddy cannot load the adapted JSON %s: %v", adapted, err)
		}
		if again, _ := json.Marshal(&loaded); !bytes.Equal(again, adapted) {
			t.Fatalf("the adapted JSON does not survive loading:\n%s\n%s", adapted, again)
		}
		// Provision fills the hub name's default before it validates.
		if loaded.Hub == "" {
			loaded.Hub = ssehub.DefaultHub
		}
		_ = loaded.Validate() // accepting or refusing are both fine; panicking is not
	})
}
