package ssehub

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// Bodies over the 16 MiB limit answer 413 in every form. NDJSON used to
// answer 400: a line longer than the limit failed in the line scanner
// ("bufio.Scanner: token too long"), and a body of many lines cut short by
// the limit failed on its half last line ("unexpected EOF").
func TestPublishBodyLimit(t *testing.T) {
	const maxPublishBody = hub.DefaultMaxPublishBytes // no hub here raises it
	event := func(dataLen int) string {
		return `{"hub":"nohub","channel":"a","data":"` + strings.Repeat("x", dataLen) + `"}`
	}
	overhead := len(event(0))
	cases := []struct {
		name, path, contentType, body string
		status                        int
	}{
		{"JSON over", "/sse_hub/publish", "application/json", event(maxPublishBody), 413},
		{"NDJSON line over", "/sse_hub/publish", "application/x-ndjson", event(maxPublishBody), 413},
		{"NDJSON lines over", "/sse_hub/publish", "application/x-ndjson", strings.Repeat(event(1<<20)+"\n", 16), 413},
		{"raw over", "/sse_hub/publish/a", "text/plain", strings.Repeat("x", maxPublishBody+1), 413},
		// At the limit the body is read whole; only then is the hub missing.
		{"JSON at the limit", "/sse_hub/publish", "application/json", event(maxPublishBody - overhead), 404},
		{"NDJSON line at the limit", "/sse_hub/publish", "application/x-ndjson", event(maxPublishBody - overhead), 404},
		{"NDJSON lines at the limit", "/sse_hub/publish", "application/x-ndjson",
			strings.Repeat(event(1<<20-overhead-1)+"\n", 16), 404},
	}
	api := new(AdminAPI)
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodPost, c.path+"?hub=nohub", strings.NewReader(c.body))
		req.Header.Set("Content-Type", c.contentType)
		var err error
		if strings.HasPrefix(c.path, "/sse_hub/publish/") {
			err = api.handlePublishRaw(httptest.NewRecorder(), req)
		} else {
			err = api.handlePublish(httptest.NewRecorder(), req)
		}
		var apiErr caddy.APIError
		if !errors.As(err, &apiErr) || apiErr.HTTPStatus != c.status {
			t.Errorf("%s (%d bytes): %v (%+v), want status %d", c.name, len(c.body), err, apiErr.HTTPStatus, c.status)
		}
	}
}
