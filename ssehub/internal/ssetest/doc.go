// Package ssetest is a test-only EventSource client: a parser that follows
// the WHATWG "server-sent events" parsing algorithm exactly, so tests check
// streams the way a browser reads them, not the way the server wrote them.
package ssetest
