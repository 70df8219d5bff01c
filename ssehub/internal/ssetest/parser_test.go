package ssetest

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// The parser is the oracle for the hub's tests, so check it against the
// examples of the standard first.
func TestParserFollowsTheStandard(t *testing.T) {
	tests := []struct {
		name     string
		stream   string
		want     []Event
		retry    int64
		comments int
	}{
		{"multi-line data", "data: YHOO\ndata: +2\ndata: 10\n\n",
			[]Event{{"message", "YHOO\n+2\n10", "", -1}}, -1, 0},
		{"comments and id reset", ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
			[]Event{{"message", "first event", "1", -1}, {"message", "second event", "", -1}, {"message", " third event", "", -1}}, -1, 1},
		{"empty data and unterminated tail", "data\n\ndata\ndata\n\ndata:",
			[]Event{{"message", "", "", -1}, {"message", "\n", "", -1}}, -1, 0},
		{"one space stripped", "data:test\n\ndata: test\n\n",
			[]Event{{"message", "test", "", -1}, {"message", "test", "", -1}}, -1, 0},
		{"lone CR line ends", "data: a\rdata: b\r\r",
			[]Event{{"message", "a\nb", "", -1}}, -1, 0},
		{"CRLF line ends", "event: x\r\ndata: a\r\n\r\n",
			[]Event{{"x", "a", "", -1}}, -1, 0},
		{"id with NUL ignored", "id: 5\ndata: a\n\nid: 1\x002\ndata: b\n\n",
			[]Event{{"message", "a", "5", -1}, {"message", "b", "5", -1}}, -1, 0},
		{"retry digits only", "retry: 12a\ndata: a\n\nretry: 50\ndata: b\n\n",
			[]Event{{"message", "a", "", -1}, {"message", "b", "", 50}}, 50, 0},
		{"no data is not dispatched but id counts", "event: x\nid: 7\n\ndata: y\n\n",
			[]Event{{"message", "y", "7", -1}}, -1, 0},
		{"BOM dropped", "\uFEFFdata: x\n\n",
			[]Event{{"message", "x", "", -1}}, -1, 0},
		{"event without blank line discarded", "data: x\n",
			nil, -1, 0},
		// Cases beyond the standard's own examples.
		{"only one BOM dropped", "\uFEFF\uFEFFdata: x\n\n",
			nil, -1, 0}, // the second BOM starts the field name "\uFEFFdata"
		{"retry and type reset by a blank line", "retry: 7\nevent: x\n\ndata: a\n\n",
			[]Event{{"message", "a", "", -1}}, 7, 0},
		{"field without colon", "data\nevent\n\n",
			[]Event{{"message", "", "", -1}}, -1, 0},
		{"unknown fields and colon in value", "foo: bar\ndata: a: b\n\n",
			[]Event{{"message", "a: b", "", -1}}, -1, 0},
		{"CR then LF across lines", "data: a\r\n\rdata: b\n\r\n",
			[]Event{{"message", "a", "", -1}, {"message", "b", "", -1}}, -1, 0},
		{"invalid UTF-8 replaced per maximal subpart", "data: a\xE2\x82b\xFFc\xF0\x9F\x98\n\n",
			[]Event{{"message", "a\uFFFDb\uFFFDc\uFFFD", "", -1}}, -1, 0},
		{"surrogate encoding replaced", "data: \xED\xA0\x80\n\n",
			[]Event{{"message", "\uFFFD\uFFFD\uFFFD", "", -1}}, -1, 0},
		{"comments counted", ":\n: ping\n:x\ndata: a\n\n",
			[]Event{{"message", "a", "", -1}}, -1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseAll(tt.stream)
			if !slices.Equal(got.Events, tt.want) {
				t.Errorf("events = %#v, want %#v", got.Events, tt.want)
			}
			if got.Retry != tt.retry {
				t.Errorf("retry = %d, want %d", got.Retry, tt.retry)
			}
			if got.Comments != tt.comments {
				t.Errorf("comments = %d, want %d", got.Comments, tt.comments)
			}

			// Streaming a byte at a time gives the same result.
			p := NewParser(iotest.OneByteReader(strings.NewReader(tt.stream)))
			var streamed []Event
			for {
				ev, err := p.Next()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatalf("Next: %v", err)
					}
					break
				}
				streamed = append(streamed, ev)
			}
			if !slices.Equal(streamed, tt.want) {
				t.Errorf("streamed events = %#v, want %#v", streamed, tt.want)
			}
			if p.Retry != tt.retry || p.Comments != tt.comments {
				t.Errorf("streamed retry, comments = %d, %d, want %d, %d", p.Retry, p.Comments, tt.retry, tt.comments)
			}
		})
	}
}

// An event is handed out as soon as its blank line arrives, without
// waiting for more of the stream.
func TestNextDoesNotReadAhead(t *testing.T) {
	pr, pw := io.Pipe()
	p := NewParser(pr)
	go func() {
		_, _ = pw.Write([]byte("data: a\n\n"))
	}()
	ev, err := p.Next()
	if err != nil || ev != (Event{"message", "a", "", -1}) {
		t.Fatalf("Next = %#v, %v", ev, err)
	}
	_ = pw.Close()
	if _, err := p.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("Next at the end = %v, want io.EOF", err)
	}
}
