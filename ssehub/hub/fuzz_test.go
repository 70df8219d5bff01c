package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// The fuzz targets of the core. Their seeds are the f.Add calls and
// testdata/fuzz/<target>; run one with
//
//	go test -run '^$' -fuzz '^FuzzEventRoundTrip$' -fuzztime 30s ./ssehub/hub

// FuzzEventRoundTrip publishes an arbitrary event through a hub, reads it
// from a subscriber, and parses the bytes with the spec-exact parser: the
// hub must accept exactly the events the standard can carry, and a client
// must see each accepted event as published, with line breaks (CRLF, LF,
// lone CR) as LF.
func FuzzEventRoundTrip(f *testing.F) {
	for _, seed := range []struct {
		typ, data string
		retry     int64
	}{
		{"", "hello", NoRetry},
		{"update", "line 1\nline 2\r\nline 3\rline 4", 3000},
		{" leading space", "  indented", 0},
		{"", "", NoRetry},
		{"", "\n", NoRetry},
		{"", "\r\r\n\n\r", NoRetry},
		{"a:b", "data: not a field\n\nid: 1\nretry: 5\nevent: x", NoRetry},
		{"", ": not a comment", NoRetry},
		{"emoji 👋🏽", "𝄞 \u2028 \u0085 \x00", 9223372036854775807},
		{"\ufeffbom", "\ufeffbom", NoRetry},
		{"a\rb", "x", NoRetry},
		{"", "\xff", NoRetry},
		{"", "x", -2},
	} {
		f.Add(seed.typ, seed.data, seed.retry)
	}
	h := startHub(f, Config{Channels: map[string]ChannelSettings{"c": {HistorySize: 1}}, SubscriberBuffer: 4}, nil)
	sub, err := h.Subscribe(SubscribeRequest{Channels: []string{"c"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(sub.Close)
	f.Fuzz(func(t *testing.T, typ, data string, retry int64) {
		valid := len(typ) <= MaxEventTypeLength && !strings.ContainsAny(typ, "\r\n") &&
			utf8.ValidString(typ) && utf8.ValidString(data) && retry >= NoRetry
		res, err := h.Publish(Draft{Channels: []string{"c"}, Type: typ, Data: data, Retry: retry})
		if (err == nil) != valid {
			t.Fatalf("Publish(type %q, data %q, retry %d) = %v; the standard can carry it: %v", typ, data, retry, err, valid)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("refusal %v is not ErrInvalid", err)
			}
			return
		}
		wire, more, err := sub.Next(nil, 1<<30)
		if err != nil || more {
			t.Fatalf("Next: more=%v err=%v", more, err)
		}
		p := ssetest.NewParser(bytes.NewReader(wire))
		ev, err := p.Next()
		if err != nil {
			t.Fatalf("frame %q: the parser dispatched nothing: %v", wire, err)
		}
		wantType := typ
		if wantType == "" {
			wantType = "message"
		}
		wantData := strings.ReplaceAll(strings.ReplaceAll(data, "\r\n", "\n"), "\r", "\n")
		if ev.Type != wantType || ev.Data != wantData || ev.LastEventID != res[0].ID.String() {
			t.Fatalf("frame %q parsed as %+v, want type %q data %q id %s", wire, ev, wantType, wantData, res[0].ID)
		}
		if p.Retry != retry {
			t.Fatalf("frame %q set retry %d, want %d", wire, p.Retry, retry)
		}
		if extra, err := p.Next(); err != io.EOF {
			t.Fatalf("frame %q parsed as more than one event: then %+v, %v", wire, extra, err)
		}
	})
}

// wireID is the ID syntax, checked independently of ParseID.
var wireID = regexp.MustCompile(`^([0-9]+)-([0-9]+)$`)

// FuzzParseID checks that every ID survives its wire form, and that
// ParseID accepts exactly "<digits>-<digits>" of two uint64 values, at
// most 41 bytes long.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1750000000000-0", "0-0", "18446744073709551615-18446744073709551615",
		"18446744073709551616-0", "007-01", "-1", "1-", "1-2-3", "+1-2", " 1-2", "1-2\n", "１-２", ""} {
		f.Add(s, uint64(1750000000000), uint64(3))
	}
	f.Fuzz(func(t *testing.T, s string, ms, seq uint64) {
		id := ID{Ms: ms, Seq: seq}
		if back, err := ParseID(id.String()); err != nil || back != id {
			t.Fatalf("ParseID(%q) = %v, %v; want %v", id.String(), back, err, id)
		}
		got, err := ParseID(s)
		var want ID
		valid := false
		if m := wireID.FindStringSubmatch(s); m != nil && len(s) <= maxIDLength {
			ms, err1 := strconv.ParseUint(m[1], 10, 64)
			seq, err2 := strconv.ParseUint(m[2], 10, 64)
			valid, want = err1 == nil && err2 == nil, ID{Ms: ms, Seq: seq}
		}
		if (err == nil) != valid || valid && got != want {
			t.Fatalf("ParseID(%q) = %v, %v; want %v (valid: %v)", s, got, err, want, valid)
		}
	})
}

// FuzzSubscribeLastEventID subscribes with an arbitrary Last-Event-ID to a
// channel whose history holds the last 5 of 12 events, and to an empty
// channel. It must never panic, and the stream must start with exactly
// what the README promises: an unknown_id notice per channel for an ID the
// hub never issued; otherwise an expired notice for each channel that lost
// events after the ID, then every retained event after it, in order.
func FuzzSubscribeLastEventID(f *testing.F) {
	clock := newFakeClock()
	h := startHub(f, Config{
		Channels:         map[string]ChannelSettings{"c": {HistorySize: 5}, "empty": {HistorySize: 5}},
		SubscriberBuffer: 10,
	}, clock)
	var ids []ID
	for i := range 12 {
		if i%3 == 0 {
			clock.Advance(time.Duration(i) * time.Millisecond)
		}
		res, err := h.Publish(Draft{Channels: []string{"c"}, Data: strconv.Itoa(i), Retry: NoRetry})
		if err != nil {
			f.Fatal(err)
		}
		ids = append(ids, res[0].ID)
	}
	for _, s := range []string{"", "garbage", ids[0].String(), ids[5].String(), ids[6].String(), ids[7].String(),
		ids[11].String(), ID{Ms: ids[11].Ms, Seq: ids[11].Seq + 1}.String(), "0-0", "1749999999999-99",
		"0" + ids[8].String(), "1-2\n\ndata: injected\n\n", strings.Repeat("9", 100), "\xff\xfe"} {
		f.Add(s)
	}
	const retained = 7 // ids[7:] are in history

	f.Fuzz(func(t *testing.T, lastEventID string) {
		sub, err := h.Subscribe(SubscribeRequest{Channels: []string{"empty", "c"}, LastEventID: lastEventID})
		if len(lastEventID) > MaxLastEventIDLength {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("a %d-byte Last-Event-ID: %v, want ErrInvalid", len(lastEventID), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Subscribe with Last-Event-ID %q: %v", lastEventID, err)
		}
		defer sub.Close()
		wire, _, err := sub.Next(nil, 1<<30)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		var got []ssetest.Event
		for p := ssetest.NewParser(bytes.NewReader(wire)); ; {
			ev, err := p.Next()
			if err != nil {
				break
			}
			got = append(got, ev)
		}

		type notice struct{ channel, reason string }
		var wantNotices []notice
		var wantEvents []ID
		id, perr := ParseID(lastEventID)
		switch {
		case lastEventID == "":
		case perr != nil || ids[len(ids)-1].Less(id):
			wantNotices = []notice{{"c", GapUnknownID}, {"empty", GapUnknownID}}
		default:
			if id.Less(ids[retained-1]) {
				wantNotices = append(wantNotices, notice{"c", GapExpired})
			}
			if id.Less(ids[0]) { // before the hub started: "empty" may have lost events too
				wantNotices = append(wantNotices, notice{"empty", GapExpired})
			}
			for _, e := range ids[retained:] {
				if id.Less(e) {
					wantEvents = append(wantEvents, e)
				}
			}
		}

		if len(got) != len(wantNotices)+len(wantEvents) {
			t.Fatalf("Last-Event-ID %q: got %d events %+v, want notices %v and events %v", lastEventID, len(got), got, wantNotices, wantEvents)
		}
		for i, n := range wantNotices {
			var data struct {
				Channel     string `json:"channel"`
				Reason      string `json:"reason"`
				LastEventID string `json:"last_event_id"`
			}
			if got[i].Type != GapEvent || got[i].LastEventID != "" || json.Unmarshal([]byte(got[i].Data), &data) != nil ||
				data.Channel != n.channel || data.Reason != n.reason {
				t.Fatalf("Last-Event-ID %q: event %d is %+v, want a %s notice for %s", lastEventID, i, got[i], n.reason, n.channel)
			}
			if len(lastEventID) <= 64 && utf8.ValidString(lastEventID) && data.LastEventID != lastEventID {
				t.Fatalf("Last-Event-ID %q: the notice names %q", lastEventID, data.LastEventID)
			}
		}
		for i, want := range wantEvents {
			if ev := got[len(wantNotices)+i]; ev.Type != "message" || ev.LastEventID != want.String() {
				t.Fatalf("Last-Event-ID %q: event %d is %+v, want %s", lastEventID, i, ev, want)
			}
		}
	})
}
