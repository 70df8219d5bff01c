package ssehub

import (
	"strings"
	"testing"
)

func TestAppDefineHub(t *testing.T) {
	size := func(n int) *int { return &n }
	news := &HubConfig{Channels: map[string]*ChannelConfig{"news": nil}}
	newsAgain := &HubConfig{Channels: map[string]*ChannelConfig{"news": {HistorySize: size(1000)}}} // the default, spelled out
	newsSmall := &HubConfig{Channels: map[string]*ChannelConfig{"news": {HistorySize: size(10)}}}
	for _, c := range []struct {
		name    string
		defs    []*HubConfig
		wantErr string // "" for success
	}{
		{"one definition", []*HubConfig{news}, ""},
		{"definition and references", []*HubConfig{{}, news, {}}, ""},
		{"two equal definitions (defaults spelled out)", []*HubConfig{news, newsAgain}, ""},
		{"two different definitions", []*HubConfig{news, newsSmall}, `hub "h" is defined twice with different settings, in place 0 and in place 1`},
		{"invalid option", []*HubConfig{{SlowConsumer: "sometimes"}}, "must be disconnect or latest"},
		{"invalid redis address", []*HubConfig{{Redis: &RedisConfig{Addresses: []string{"nohost"}}}}, "want host:port"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &App{plans: map[string]*hubPlan{}}
			var err error
			for i, def := range c.defs {
				if _, err = a.define("h", def, "place "+string(rune('0'+i))); err != nil {
					break
				}
			}
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}
