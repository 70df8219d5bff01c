package caddyfile

import (
	"strings"
	"testing"

	caddyfile "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/ssehub/sse_hub/ssehub"
)

func TestDirectiveRejectsBadInput(t *testing.T) {
	cases := []struct {
		input, want string
	}{
		{`sse_hub extra`, "wrong argument count"},
		{"sse_hub {\n colour blue\n}", `unrecognized sse_hub option "colour"`},
		{"sse_hub {\n hub\n}", "wrong argument count"},
		{"sse_hub {\n hub a b\n}", "wrong argument count"},
		{"sse_hub {\n channel\n}", "wrong argument count"},
		{"sse_hub {\n channel a\n channel a\n}", `channel "a" declared twice`},
		{"sse_hub {\n channel a {\n colour blue\n }\n}", `unrecognized option "colour" in channel "a"`},
		{"sse_hub {\n history_size -1\n}", "is not a count"},
		{"sse_hub {\n history_size lots\n}", "is not a count"},
		{"sse_hub {\n max_on_demand_channels 1.5\n}", "is not a count"},
		{"sse_hub {\n retry soon\n}", "is not a duration"},
		{"sse_hub {\n heartbeat\n}", "wrong argument count"},
		{"sse_hub {\n on_demand\n}", "wrong argument count"},
		{"sse_hub {\n channel_from\n}", "wrong argument count"},
		{"sse_hub {\n max_subscribers lots\n}", "is not a count"},
		{"sse_hub {\n max_subscribers\n}", "wrong argument count"},
		{"sse_hub {\n max_subscribers unlimited please\n}", "wrong argument count"},
		{"sse_hub {\n max_event_bytes huge\n}", "is not a size"},
		{"sse_hub {\n max_heap\n}", "wrong argument count"},
		{"sse_hub {\n redis {\n colour blue\n }\n}", `unrecognized option "colour" in redis`},
		{"sse_hub {\n redis\n redis\n}", "redis set twice"},
		{"sse_hub {\n redis {\n db two\n }\n}", "is not a count"},
		{"sse_hub {\n redis {\n tls yes\n }\n}", "wrong argument count"},
		{"sse_hub {\n redis {\n address\n }\n}", "wrong argument count"},
	}
	for _, c := range cases {
		err := unmarshal(caddyfile.NewTestDispenser(c.input), new(ssehub.Handler))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.input, err, c.want)
		}
	}
}

func TestDirectiveParsesChannelBlocks(t *testing.T) {
	input := `sse_hub {
		channel plain
		channel tuned {
			history_size 7
			history_max_age 0
		}
		history_size 0
	}`
	var h ssehub.Handler
	if err := unmarshal(caddyfile.NewTestDispenser(input), &h); err != nil {
		t.Fatal(err)
	}
	if c := h.Channels["plain"]; c == nil || c.HistorySize != nil || c.HistoryMaxAge != nil {
		t.Errorf("plain channel = %+v, want declared with defaults", c)
	}
	if c := h.Channels["tuned"]; c == nil || *c.HistorySize != 7 || *c.HistoryMaxAge != 0 {
		t.Errorf("tuned channel = %+v", c)
	}
	if h.HistorySize == nil || *h.HistorySize != 0 {
		t.Errorf("an explicit history_size 0 must be kept, got %v", h.HistorySize)
	}
}
