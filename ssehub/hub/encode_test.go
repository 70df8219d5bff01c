package hub

import (
	"bytes"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// lineBreak is what a browser treats as a line end inside data.
var lineBreak = regexp.MustCompile(`\r\n|\r|\n`)

// referenceFrame is a second, deliberately naive encoder used to state the
// expected wire form of payloads too big to write out by hand.
func referenceFrame(id, typ, data string, retry int64) string {
	var b strings.Builder
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	if typ != "" {
		b.WriteString("event: " + typ + "\n")
	}
	if retry >= 0 {
		b.WriteString("retry: " + strconv.FormatInt(retry, 10) + "\n")
	}
	for _, line := range lineBreak.Split(data, -1) {
		if line == "" {
			b.WriteString("data:\n")
		} else {
			b.WriteString("data: " + line + "\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

func bigPayload(size int, multiLine bool) string {
	var b strings.Builder
	breaks := []string{"\n", "\r\n", "\r"}
	for i := 0; b.Len() < size; i++ {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(i))
		b.WriteString(" é 😀 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
		if multiLine {
			b.WriteString(breaks[i%len(breaks)])
		}
	}
	return b.String()
}

func TestNewEventWireForm(t *testing.T) {
	id := ID{Ms: 1700000000000, Seq: 3}
	const idLine = "id: 1700000000000-3\n"
	mib := 1 << 20
	bigOneLine := bigPayload(mib, false)
	bigLines := bigPayload(mib, true)

	tests := []struct {
		name  string
		typ   string
		data  string
		retry int64
		// want is the exact frame; "" means referenceFrame's.
		want string
		// browser is the data a browser dispatches; it differs from data
		// only in that every line break arrives as LF.
		browser string
	}{
		{name: "plain text", data: "hello world", retry: NoRetry,
			want: idLine + "data: hello world\n\n", browser: "hello world"},
		{name: "lone CR", data: "a\rb", retry: NoRetry,
			want: idLine + "data: a\ndata: b\n\n", browser: "a\nb"},
		{name: "CRLF", data: "a\r\nb", retry: NoRetry,
			want: idLine + "data: a\ndata: b\n\n", browser: "a\nb"},
		{name: "LF", data: "a\nb", retry: NoRetry,
			want: idLine + "data: a\ndata: b\n\n", browser: "a\nb"},
		{name: "mixed breaks", data: "a\r\r\nb\n\rc", retry: NoRetry,
			want: idLine + "data: a\ndata:\ndata: b\ndata:\ndata: c\n\n", browser: "a\n\nb\n\nc"},
		{name: "trailing LF", data: "a\n", retry: NoRetry,
			want: idLine + "data: a\ndata:\n\n", browser: "a\n"},
		{name: "trailing CR", data: "a\r", retry: NoRetry,
			want: idLine + "data: a\ndata:\n\n", browser: "a\n"},
		{name: "leading space", data: " a", retry: NoRetry,
			want: idLine + "data:  a\n\n", browser: " a"},
		{name: "leading spaces on every line", data: "  a\n b", retry: NoRetry,
			want: idLine + "data:   a\ndata:  b\n\n", browser: "  a\n b"},
		{name: "leading colon", data: ":not a comment", retry: NoRetry,
			want: idLine + "data: :not a comment\n\n", browser: ":not a comment"},
		{name: "empty string", data: "", retry: NoRetry,
			want: idLine + "data:\n\n", browser: ""},
		{name: "only LFs", data: "\n\n", retry: NoRetry,
			want: idLine + "data:\ndata:\ndata:\n\n", browser: "\n\n"},
		{name: "only CRLF", data: "\r\n", retry: NoRetry,
			want: idLine + "data:\ndata:\n\n", browser: "\n"},
		{name: "only CRs", data: "\r\r", retry: NoRetry,
			want: idLine + "data:\ndata:\ndata:\n\n", browser: "\n\n"},
		{name: "emoji non-BMP", data: "😀 ok 𝄞", retry: NoRetry,
			want: idLine + "data: 😀 ok 𝄞\n\n", browser: "😀 ok 𝄞"},
		{name: "NUL in data", data: "a\x00b", retry: NoRetry,
			want: idLine + "data: a\x00b\n\n", browser: "a\x00b"},
		{name: "1 MiB one line", data: bigOneLine, retry: NoRetry, browser: bigOneLine},
		{name: "1 MiB many lines", data: bigLines, retry: NoRetry, browser: lineBreak.ReplaceAllString(bigLines, "\n")},
		{name: "event type with a space", typ: "user joined", data: "x", retry: NoRetry,
			want: idLine + "event: user joined\ndata: x\n\n", browser: "x"},
		{name: "event type with leading space", typ: " odd", data: "x", retry: NoRetry,
			want: idLine + "event:  odd\ndata: x\n\n", browser: "x"},
		{name: "event type emoji", typ: "🎉", data: "x", retry: NoRetry,
			want: idLine + "event: 🎉\ndata: x\n\n", browser: "x"},
		{name: "retry unset", data: "x", retry: NoRetry,
			want: idLine + "data: x\n\n", browser: "x"},
		{name: "retry zero", data: "x", retry: 0,
			want: idLine + "retry: 0\ndata: x\n\n", browser: "x"},
		{name: "retry set", data: "x", retry: 3000,
			want: idLine + "retry: 3000\ndata: x\n\n", browser: "x"},
		{name: "all fields", typ: "update", data: "a\r\nb\n", retry: 1500,
			want: idLine + "event: update\nretry: 1500\ndata: a\ndata: b\ndata:\n\n", browser: "a\nb\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Draft{Channels: []string{"c"}, Type: tt.typ, Data: tt.data, Retry: tt.retry}
			if err := d.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			now := time.Unix(1700000000, 0)
			e := newEvent(d, id, now)
			wire := e.Wire()

			want := tt.want
			if want == "" {
				want = referenceFrame(id.String(), tt.typ, tt.data, tt.retry)
			}
			if string(wire) != want {
				t.Errorf("wire = %s, want %s", abbrev(string(wire)), abbrev(want))
			}
			if n := frameSize(id.String(), tt.typ, tt.data, tt.retry); n != len(wire) {
				t.Errorf("frameSize = %d, len(wire) = %d", n, len(wire))
			}
			if cap(wire) != len(wire) {
				t.Errorf("wire was reallocated: cap %d, len %d", cap(wire), len(wire))
			}
			if bytes.IndexByte(wire, '\r') >= 0 {
				t.Errorf("wire holds a raw CR")
			}
			if e.ID != id || e.Type != tt.typ || e.Retry != tt.retry || !e.PublishedAt.Equal(now) {
				t.Errorf("event fields = %+v", e)
			}

			got := ssetest.ParseAll(string(wire))
			if len(got.Events) != 1 {
				t.Fatalf("client dispatched %d events, want 1", len(got.Events))
			}
			ev := got.Events[0]
			wantType := tt.typ
			if wantType == "" {
				wantType = "message"
			}
			if ev.Data != tt.browser {
				t.Errorf("client data = %s, want %s", abbrev(ev.Data), abbrev(tt.browser))
			}
			if ev.Type != wantType {
				t.Errorf("client type = %q, want %q", ev.Type, wantType)
			}
			if ev.LastEventID != id.String() {
				t.Errorf("client last event ID = %q, want %q", ev.LastEventID, id)
			}
			if ev.Retry != tt.retry {
				t.Errorf("client retry = %d, want %d", ev.Retry, tt.retry)
			}

			// appendFrame appends: what is already in the buffer stays.
			prefixed := appendFrame([]byte(": prefix\n\n"), id.String(), tt.typ, tt.data, tt.retry)
			if string(prefixed) != ": prefix\n\n"+want {
				t.Errorf("appendFrame lost or changed the buffer's prefix")
			}
		})
	}
}

// A frame without an id (the hub's own notices) must not touch the
// client's Last-Event-ID, and frames must concatenate into a stream.
func TestFramesConcatenate(t *testing.T) {
	var stream []byte
	stream = AppendRetry(stream, 2500)
	stream = appendFrame(stream, "1-0", "", "first", NoRetry)
	stream = append(stream, Heartbeat...)
	stream = appendFrame(stream, "", "note", "x\ny", NoRetry)
	stream = appendFrame(stream, "2-0", "t", "", NoRetry)

	got := ssetest.ParseAll(string(stream))
	want := []ssetest.Event{
		{Type: "message", Data: "first", LastEventID: "1-0", Retry: -1},
		{Type: "note", Data: "x\ny", LastEventID: "1-0", Retry: -1},
		{Type: "t", Data: "", LastEventID: "2-0", Retry: -1},
	}
	if !slices.Equal(got.Events, want) {
		t.Errorf("events = %#v, want %#v", got.Events, want)
	}
	if got.Retry != 2500 {
		t.Errorf("retry = %d, want 2500", got.Retry)
	}
	if got.Comments != 1 {
		t.Errorf("comments = %d, want 1 heartbeat", got.Comments)
	}
	if string(AppendRetry(nil, 0)) != "retry: 0\n\n" {
		t.Errorf("AppendRetry(0) = %q", AppendRetry(nil, 0))
	}
}

func abbrev(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:40]) + "..." + strconv.Quote(s[len(s)-40:]) + " (" + strconv.Itoa(len(s)) + " bytes)"
	}
	return strconv.Quote(s)
}
