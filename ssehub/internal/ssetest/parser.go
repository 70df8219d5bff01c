package ssetest

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// Event is one dispatched event, as a browser's MessageEvent sees it.
type Event struct {
	Type        string // "message" when the stream gave none
	Data        string
	LastEventID string // the stream's last event ID at dispatch
}

// Parser reads a text/event-stream. It is not safe for concurrent use.
type Parser struct {
	r           *bufio.Reader
	started     bool
	pendingCR   bool // the previous line ended in CR: a following LF is part of it
	data        strings.Builder
	hasData     bool
	eventType   string
	lastEventID string
	// Retry is the last valid "retry:" value in milliseconds, or -1.
	Retry int64
	// Comments counts comment lines (heartbeats).
	Comments int
}

// NewParser reads the stream from r.
func NewParser(r io.Reader) *Parser {
	return &Parser{r: bufio.NewReaderSize(r, 64<<10), Retry: -1}
}

// Next returns the next dispatched event, or the read error (io.EOF at the
// end of the stream).
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

// readLine returns one line without its terminator; CRLF, LF and a lone CR
// all end a line.
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
			return b.String(), nil
		case '\r':
			p.pendingCR = true
			return b.String(), nil
		}
		b.WriteByte(c)
	}
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
				p.Retry = ms
			}
		}
	}
	return Event{}, false
}

func (p *Parser) dispatch() (Event, bool) {
	defer func() {
		p.data.Reset()
		p.hasData = false
		p.eventType = ""
	}()
	if !p.hasData {
		return Event{}, false
	}
	data := strings.TrimSuffix(p.data.String(), "\n")
	typ := p.eventType
	if typ == "" {
		typ = "message"
	}
	return Event{Type: typ, Data: data, LastEventID: p.lastEventID}, true
}
