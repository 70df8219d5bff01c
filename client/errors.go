package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error is an answer of the admin endpoint other than 200 OK: the request
// was refused and nothing was published or changed.
//
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound { … }
type Error struct {
	// Op is what the client was doing: "publish", "list hubs", "close channel".
	Op string
	// StatusCode is the HTTP status: 400 for an invalid event, 404 for an
	// unknown hub or channel, 403 when the admin endpoint refused the
	// client's Host or Origin, 409 when the on-demand channel bound is reached.
	StatusCode int
	// Message is the admin API's explanation.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("sse_hub %s: HTTP %d: %s", e.Op, e.StatusCode, e.Message)
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// newError reads an error answer. Caddy's admin endpoint answers
// {"error":"…"}; anything else (a proxy's page, say) is kept as text.
func newError(op string, resp *http.Response) *Error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		msg = body.Error
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &Error{Op: op, StatusCode: resp.StatusCode, Message: msg}
}
