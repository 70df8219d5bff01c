package ssehub

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// An NDJSON line longer than the body limit used to fail with the
// scanner's "bufio.Scanner: token too long" and a 400; it is a body that
// is too large (413), as the same bytes sent as plain JSON are.
func TestNDJSONLineOverTheBodyLimitIsTooLarge(t *testing.T) {
	line := `{"channel":"a","data":"` + strings.Repeat("x", maxPublishBody) + `"}`
	_, _, _, err := decodePublishBody(strings.NewReader(line), true)
	var tooLarge *http.MaxBytesError
	if !errors.As(err, &tooLarge) || bodyErrorStatus(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("decoding a %d-byte NDJSON line: %v (status %d), want a 413 body-too-large error", len(line), err, bodyErrorStatus(err))
	}
}
