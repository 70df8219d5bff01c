package ssetest

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Event is one dispatched event, as a browser's MessageEvent sees it.
type Event struct {
	Type        string // "message" when the stream gave none
	Data        string
	LastEventID string // the stream's last event ID at dispatch
	// Retry is the reconnection time set by a valid "retry:" field read
	// since the previous blank line, or -1 when there was none. Retry is a
	// stream setting in the standard (see Parser.Retry); it is kept per
	// event here so tests can check which frame carried it.
	Retry int64
}

// Parser reads a text/event-stream following the WHATWG "Server-sent
// events" interpretation algorithm. It is not safe for concurrent use.
type Parser struct {
	r           *bufio.Reader
	started     bool
	pendingCR   bool // the previous line ended in CR: a following LF is part of it
	data        strings.Builder
	hasData     bool
	eventType   string
	lastEventID string
	eventRetry  int64 // retry read since the previous blank line, or -1
	// Retry is the last valid "retry:" value in milliseconds, or -1.
	Retry int64
	// Comments counts comment lines (heartbeats).
	Comments int
}

// NewParser reads the stream from r.
func NewParser(r io.Reader) *Parser {
	return &Parser{r: bufio.NewReaderSize(r, 64<<10), Retry: -1, eventRetry: -1}
}

// Next returns the next dispatched event, or the read error (io.EOF at the
// end of the stream). An unterminated last line and an event without its
// closing blank line are discarded, as at the end of a real stream.
func (p *Parser) Next() (Event, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			return Event{}, err
		}
		if ev, ok := p.processLine(line); ok {
			return ev, nil
		}
	}
}

// Stream is what a client made of a whole stream.
type Stream struct {
	Events   []Event
	Retry    int64 // last valid reconnection time, -1 if none
	Comments int   // comment lines
}

// ParseAll parses a complete stream held in memory with a Parser. As at the
// end of a real stream, an unterminated last line and an event without its
// closing blank line are discarded.
func ParseAll(stream string) Stream {
	p := NewParser(strings.NewReader(stream))
	var out Stream
	for {
		ev, err := p.Next()
		if err != nil { // only io.EOF: a strings.Reader fails no other way
			out.Retry, out.Comments = p.Retry, p.Comments
			return out
		}
		out.Events = append(out.Events, ev)
	}
}

// readLine returns one line without its terminator; CRLF, LF and a lone CR
// all end a line. The line is decoded as UTF-8 the way the standard's
// "UTF-8 decode" does it.
func (p *Parser) readLine() (string, error) {
	var b strings.Builder
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			return "", err
		}
		if !p.started {
			p.started = true
			// A leading UTF-8 BOM is dropped.
			if c == 0xEF {
				rest, _ := p.r.Peek(2)
				if len(rest) == 2 && rest[0] == 0xBB && rest[1] == 0xBF {
					_, _ = p.r.Discard(2)
					continue
				}
			}
		}
		if p.pendingCR {
			p.pendingCR = false
			if c == '\n' {
				continue
			}
		}
		switch c {
		case '\n':
			return decodeUTF8(b.String()), nil
		case '\r':
			p.pendingCR = true
			return decodeUTF8(b.String()), nil
		}
		b.WriteByte(c)
	}
}

// decodeUTF8 replaces invalid UTF-8 the way the Encoding Standard's UTF-8
// decoder does: one U+FFFD per maximal subpart of an ill-formed sequence
// (Go's own decoding would give one per byte). CR and LF are ASCII, so they
// never occur inside a sequence and decoding line by line is the same as
// decoding the whole stream first.
func decodeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	var cp rune
	needed, seen := 0, 0
	lower, upper := byte(0x80), byte(0xBF)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needed == 0 {
			switch {
			case c <= 0x7F:
				b.WriteByte(c)
			case c >= 0xC2 && c <= 0xDF:
				needed, cp = 1, rune(c&0x1F)
			case c >= 0xE0 && c <= 0xEF:
				if c == 0xE0 {
					lower = 0xA0
				} else if c == 0xED {
					upper = 0x9F
				}
				needed, cp = 2, rune(c&0x0F)
			case c >= 0xF0 && c <= 0xF4:
				if c == 0xF0 {
					lower = 0x90
				} else if c == 0xF4 {
					upper = 0x8F
				}
				needed, cp = 3, rune(c&0x07)
			default:
				b.WriteRune(utf8.RuneError)
			}
			continue
		}
		if c < lower || c > upper {
			// The sequence is cut short: one U+FFFD, then c starts afresh.
			needed, seen, cp = 0, 0, 0
			lower, upper = 0x80, 0xBF
			b.WriteRune(utf8.RuneError)
			i--
			continue
		}
		lower, upper = 0x80, 0xBF
		cp = cp<<6 | rune(c&0x3F)
		seen++
		if seen == needed {
			b.WriteRune(cp)
			needed, seen, cp = 0, 0, 0
		}
	}
	if needed != 0 {
		b.WriteRune(utf8.RuneError)
	}
	return b.String()
}

// processLine applies one line; it returns an event when the line dispatched one.
func (p *Parser) processLine(line string) (Event, bool) {
	if line == "" {
		return p.dispatch()
	}
	if line[0] == ':' {
		p.Comments++
		return Event{}, false
	}
	// A line without a colon is a field name with an empty value.
	field, value, found := strings.Cut(line, ":")
	if found {
		value = strings.TrimPrefix(value, " ")
	}
	switch field {
	case "event":
		p.eventType = value
	case "data":
		p.data.WriteString(value)
		p.data.WriteByte('\n')
		p.hasData = true
	case "id":
		if !strings.ContainsRune(value, 0) {
			p.lastEventID = value
		}
	case "retry":
		if value != "" && strings.Trim(value, "0123456789") == "" {
			if ms, err := strconv.ParseInt(value, 10, 64); err == nil {
				p.Retry, p.eventRetry = ms, ms
			}
		}
	}
	return Event{}, false
}

// dispatch handles a blank line. The last event ID buffer is kept; the data
// and event type buffers (and the per-event retry) are cleared whether or
// not an event is dispatched.
func (p *Parser) dispatch() (Event, bool) {
	defer func() {
		p.data.Reset()
		p.hasData = false
		p.eventType = ""
		p.eventRetry = -1
	}()
	if !p.hasData {
		return Event{}, false
	}
	data := strings.TrimSuffix(p.data.String(), "\n")
	typ := p.eventType
	if typ == "" {
		typ = "message"
	}
	return Event{Type: typ, Data: data, LastEventID: p.lastEventID, Retry: p.eventRetry}, true
}
