package ssehub

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// FuzzDecodePublishBody feeds arbitrary bodies to the publish decoder, as
// JSON and as NDJSON. It must never panic; every refusal must be a client
// error (400, with a message); and whatever it accepts must be valid UTF-8
// and decode again, written back as plain JSON events, to the same drafts.
// Seeds: the f.Add calls below and testdata/fuzz/FuzzDecodePublishBody.
func FuzzDecodePublishBody(f *testing.F) {
	for _, seed := range []struct {
		body   string
		ndjson bool
	}{
		{`{"channel":"news","data":"hello"}`, false},
		{`{"hub":"h","channels":["a","b"],"event":"update","data":{"n":[1,2]},"retry":3000}`, false},
		{`[{"channel":"a","data":"one"},{"channel":"b","data":"two\r\nlines"}]`, false},
		{"{\"channel\":\"a\",\"data\":\"x\"}\n\n{\"channel\":\"b\",\"data\":null}\r\n", true},
		{`{"channel":"a","data":"\ud800 lone surrogate"}`, false},
		{`{"channel":"a","data":1e999}`, false},
		{`{"channel":"a","data":"x","id":"1"}`, false},
		{`{"channel":"a","data":"x","colour":1}`, false},
		{`{"CHANNEL":"a","Data":"x"}`, false},
		{`{"channel":"a","data":"x"} {}`, false},
		{`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`, false},
		{"{\"channel\":\"a\",\"data\":\"\xff\"}", false},
		{`[{"hub":"a","channel":"c","data":""},{"channel":"c","data":""}]`, true},
	} {
		f.Add([]byte(seed.body), seed.ndjson)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		hubName, drafts, batch, err := decodePublishBody(bytes.NewReader(body), ndjson)
		if err != nil {
			if !errors.Is(err, hub.ErrInvalid) || err.Error() == "" {
				t.Fatalf("refusal %q is not a client error with a message (it would not answer 400)", err)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted a body that is not valid UTF-8")
		}
		if hubName == "" || len(drafts) == 0 {
			t.Fatalf("accepted with hub %q and %d drafts", hubName, len(drafts))
		}
		if ndjson && !batch {
			t.Fatalf("an NDJSON body must answer as a batch")
		}
		if !batch && len(drafts) != 1 {
			t.Fatalf("a single event decoded to %d drafts", len(drafts))
		}
		type event struct {
			Hub      string   `json:"hub"`
			Channels []string `json:"channels"`
			Event    string   `json:"event,omitempty"`
			Data     string   `json:"data"`
			Retry    *int64   `json:"retry,omitempty"`
		}
		again := make([]event, len(drafts))
		for i, d := range drafts {
			if len(d.Channels) == 0 || d.Retry < hub.NoRetry {
				t.Fatalf("draft %d: %+v has no channel or a negative retry", i, d)
			}
			if !utf8.ValidString(d.Data) || !utf8.ValidString(d.Type) {
				t.Fatalf("draft %d: data or type is not valid UTF-8", i)
			}
			again[i] = event{Hub: hubName, Channels: d.Channels, Event: d.Type, Data: d.Data}
			if d.Retry != hub.NoRetry {
				again[i].Retry = &d.Retry
			}
		}
		rewritten, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		hubName2, drafts2, _, err := decodePublishBody(bytes.NewReader(rewritten), false)
		if err != nil {
			t.Fatalf("the accepted events, written back as %s, are refused: %v", rewritten, err)
		}
		if hubName2 != hubName || !reflect.DeepEqual(drafts2, drafts) {
			t.Fatalf("round trip changed the events:\n%+v %+v\n%+v %+v", hubName, drafts, hubName2, drafts2)
		}
	})
}
