package hub

import "strconv"

// appendFrame appends one server-sent-events frame to b. The caller has
// validated typ (no CR/LF) and id (no CR, LF or NUL by construction).
//
// Data is split on CRLF, LF and lone CR alike, each piece becoming a "data:"
// line: a browser treats all three as line ends, so writing a lone CR raw
// would split the event where the publisher never meant it to. "data: "
// always carries the space, so a payload that starts with a space keeps it.
func appendFrame(b []byte, id, typ, data string, retry int64) []byte {
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	if typ != "" {
		b = append(b, "event: "...)
		b = append(b, typ...)
		b = append(b, '\n')
	}
	if retry >= 0 {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, retry, 10)
		b = append(b, '\n')
	}
	for {
		line, rest, more := cutLine(data)
		if line == "" {
			b = append(b, "data:\n"...)
		} else {
			b = append(b, "data: "...)
			b = append(b, line...)
			b = append(b, '\n')
		}
		if !more {
			break
		}
		data = rest
	}
	return append(b, '\n')
}

// frameSize is the exact length appendFrame will produce, so the frame is
// allocated once at its final size.
func frameSize(id, typ, data string, retry int64) int {
	n := 1 // the blank line
	if id != "" {
		n += len("id: ") + len(id) + 1
	}
	if typ != "" {
		n += len("event: ") + len(typ) + 1
	}
	if retry >= 0 {
		n += len("retry: ") + len(strconv.FormatInt(retry, 10)) + 1
	}
	for {
		line, rest, more := cutLine(data)
		n += len("data:\n")
		if line != "" {
			n += 1 + len(line)
		}
		if !more {
			return n
		}
		data = rest
	}
}

// cutLine splits s at its first line end (CRLF, LF or lone CR).
func cutLine(s string) (line, rest string, found bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			return s[:i], s[i+1:], true
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				return s[:i], s[i+2:], true
			}
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// AppendRetry appends a bare "retry:" hint, sent when a stream opens.
func AppendRetry(b []byte, ms int64) []byte {
	b = append(b, "retry: "...)
	b = strconv.AppendInt(b, ms, 10)
	return append(b, "\n\n"...)
}

// Heartbeat is the comment line written to idle streams; clients ignore it.
var Heartbeat = []byte(": heartbeat\n\n")
