package client

import (
	"context"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewParsesAdminAddresses(t *testing.T) {
	tests := []struct {
		admin, base, origin, socket, err string
	}{
		{admin: "localhost:2019", base: "http://localhost:2019", origin: "http://localhost:2019"},
		{admin: " 127.0.0.1:2019 ", base: "http://127.0.0.1:2019", origin: "http://127.0.0.1:2019"},
		{admin: "[::1]:2019", base: "http://[::1]:2019", origin: "http://[::1]:2019"},
		{admin: "tcp/localhost:2019", base: "http://localhost:2019", origin: "http://localhost:2019"},
		{admin: "tcp6/[::1]:2019", base: "http://[::1]:2019", origin: "http://[::1]:2019"},
		{admin: "http://localhost:2019/", base: "http://localhost:2019", origin: "http://localhost:2019"},
		{admin: "https://caddy.example.com:2021/admin/", base: "https://caddy.example.com:2021/admin", origin: "https://caddy.example.com:2021"},
		{admin: "unix//run/caddy/admin.sock", base: "http://127.0.0.1", socket: "/run/caddy/admin.sock"},
		{admin: "unix//run/caddy/admin.sock|0220", base: "http://127.0.0.1", socket: "/run/caddy/admin.sock"},
		{admin: "", err: "empty admin address"},
		{admin: "unix/", err: "no socket path"},
		{admin: "fd/3", err: `network "fd" not supported`},
		{admin: "ftp://localhost:2019", err: "scheme must be http or https"},
		{admin: "http://", err: "want host:port"},
		{admin: "localhost:2019?x=1", err: "want host:port"},
	}
	for _, tt := range tests {
		c := &Client{}
		socket, err := c.parseAddress(tt.admin)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want one containing %q", tt.admin, err, tt.err)
			}
			continue
		}
		if err != nil || c.base != tt.base || c.origin != tt.origin || socket != tt.socket {
			t.Errorf("%q: base %q origin %q socket %q err %v; want %q %q %q", tt.admin, c.base, c.origin, socket, err, tt.base, tt.origin, tt.socket)
		}
	}
}

// recorded is one request as the fake admin endpoint saw it.
type recorded struct {
	method, path, contentType, origin, body string
}

// fakeAdmin answers every request with status and answer, and records it.
func fakeAdmin(t *testing.T, status int, answer string) (*Client, <-chan recorded) {
	t.Helper()
	reqs := make(chan recorded, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- recorded{r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type"), r.Header.Get("Origin"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c, reqs
}

func TestPublishSendsTheAdminAPIsJSON(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		body string
	}{
		{"minimal", Event{Channels: []string{"news"}, Data: "hi"}, `{"channels":["news"],"data":"hi"}`},
		{"empty data is still sent", Event{Channels: []string{"news"}}, `{"channels":["news"],"data":""}`},
		{"every field", Event{Hub: "h", Channels: []string{"a", "b"}, Type: "update", Data: "x\ny", Retry: 3 * time.Second},
			`{"hub":"h","channels":["a","b"],"event":"update","data":"x\ny","retry":3000}`},
		{"retry rounds up to a millisecond", Event{Channels: []string{"a"}, Data: "x", Retry: 1500 * time.Microsecond},
			`{"channels":["a"],"data":"x","retry":2}`},
		{"no channel is left to the hub to refuse", Event{Data: "x"}, `{"channels":null,"data":"x"}`},
	}
	for _, tt := range tests {
		c, reqs := fakeAdmin(t, http.StatusOK, `{"id":"1-0","subscribers":2}`)
		res, err := c.Publish(context.Background(), tt.ev)
		if err != nil || res != (Result{ID: "1-0", Subscribers: 2}) {
			t.Errorf("%s: Publish = %+v, %v", tt.name, res, err)
		}
		got := <-reqs
		want := recorded{http.MethodPost, "/sse_hub/publish", "application/json", c.origin, tt.body}
		if got != want {
			t.Errorf("%s: sent %+v, want %+v", tt.name, got, want)
		}
	}
}

func TestInvalidUTF8IsRefusedNotReplaced(t *testing.T) {
	c, reqs := fakeAdmin(t, http.StatusOK, `{"id":"1-0","subscribers":0}`)
	ctx := context.Background()
	bad := Event{Channels: []string{"a"}, Data: "caf\xe9"}
	if _, err := c.Publish(ctx, bad); err == nil || !strings.Contains(err.Error(), "valid UTF-8") {
		t.Errorf("Publish = %v, want a UTF-8 error", err)
	}
	if _, err := c.PublishBatch(ctx, []Event{{Channels: []string{"a"}, Data: "ok"}, bad}); err == nil || !strings.Contains(err.Error(), "event 1: ") {
		t.Errorf("PublishBatch = %v, want a UTF-8 error naming event 1", err)
	}
	select {
	case r := <-reqs:
		t.Errorf("an invalid event was sent: %+v", r)
	default:
	}
}

func TestBatchesAndAdminRoutes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		answer string
		call   func(c *Client) (any, error)
		want   recorded
		result any
	}{
		{"batch", `{"events":[{"id":"1-0","subscribers":1},{"id":"1-1","subscribers":0}]}`,
			func(c *Client) (any, error) {
				return c.PublishBatch(ctx, []Event{{Channels: []string{"a"}, Data: "1"}, {Channels: []string{"b"}, Data: "2"}})
			},
			recorded{http.MethodPost, "/sse_hub/publish", "application/json", "", `[{"channels":["a"],"data":"1"},{"channels":["b"],"data":"2"}]`},
			[]Result{{"1-0", 1}, {"1-1", 0}}},
		{"ndjson", `{"events":[{"id":"1-0","subscribers":1}]}`,
			func(c *Client) (any, error) {
				return c.PublishNDJSON(ctx, strings.NewReader(`{"channel":"a","data":{"x":1}}`+"\n"))
			},
			recorded{http.MethodPost, "/sse_hub/publish", "application/x-ndjson", "", `{"channel":"a","data":{"x":1}}` + "\n"},
			[]Result{{"1-0", 1}}},
		{"hubs", `[{"name":"default","channels":[{"name":"news","subscribers":3}]}]`,
			func(c *Client) (any, error) { return c.Hubs(ctx) },
			recorded{http.MethodGet, "/sse_hub/hubs", "", "", ""},
			[]HubInfo{{Name: "default", Channels: []ChannelInfo{{Name: "news", Subscribers: 3}}}}},
		{"default hub", `{"name":"default","channels":[]}`,
			func(c *Client) (any, error) { return c.Hub(ctx, "") },
			recorded{http.MethodGet, "/sse_hub/hubs/default", "", "", ""},
			HubInfo{Name: "default", Channels: []ChannelInfo{}}},
		{"close", `{"closed":"room 1"}`,
			func(c *Client) (any, error) { return nil, c.CloseChannel(ctx, "h", "room 1") },
			recorded{http.MethodDelete, "/sse_hub/hubs/h/channels/room%201", "", "", ""},
			nil},
	}
	for _, tt := range tests {
		c, reqs := fakeAdmin(t, http.StatusOK, tt.answer)
		res, err := tt.call(c)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(res, tt.result) {
			t.Errorf("%s: result %#v, want %#v", tt.name, res, tt.result)
		}
		got := <-reqs
		tt.want.origin = c.origin
		if got != tt.want {
			t.Errorf("%s: sent %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestRefusalsBecomeErrors(t *testing.T) {
	tests := []struct {
		name, answer string
		status       int
		message      string
	}{
		{"admin API error", `{"error":"no channel \"sports\""}`, 404, `no channel "sports"`},
		{"caddy origin check", `{"error":"client is not allowed to access from origin ''"}`, 403, "client is not allowed to access from origin ''"},
		{"not JSON", "bad gateway\n", 502, "bad gateway"},
		{"empty body", "", 500, "Internal Server Error"},
	}
	for _, tt := range tests {
		c, _ := fakeAdmin(t, tt.status, tt.answer)
		_, err := c.Publish(context.Background(), Event{Channels: []string{"sports"}, Data: "x"})
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status || apiErr.Message != tt.message || apiErr.Op != "publish" {
			t.Errorf("%s: err = %#v, want *Error %d %q", tt.name, err, tt.status, tt.message)
			continue
		}
		if want := fmt.Sprintf("sse_hub publish: HTTP %d: %s", tt.status, tt.message); err.Error() != want {
			t.Errorf("%s: text %q, want %q", tt.name, err, want)
		}
	}
}

func TestContextCancelsARequest(t *testing.T) {
	arrived, finished := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client hang-up only once the body is read.
		io.Copy(io.Discard, r.Body)
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-finished:
		}
	}))
	defer srv.Close()
	defer close(finished)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err = c.Publish(ctx, Event{Channels: []string{"a"}, Data: "x"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestUnixSocketSendsNoOrigin(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	origins := make(chan []string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origins <- r.Header.Values("Origin")
		io.WriteString(w, `{"id":"1-0","subscribers":0}`)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := New("unix/" + sock)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Publish(context.Background(), Event{Channels: []string{"a"}, Data: "x"})
	if err != nil || res.ID != "1-0" {
		t.Fatalf("Publish over a unix socket = %+v, %v", res, err)
	}
	// Caddy refuses an Origin on a unix socket: it has no address to match.
	if got := <-origins; len(got) != 0 {
		t.Errorf("Origin sent over a unix socket: %q", got)
	}
	c.hc.CloseIdleConnections()
}

// The package must stay usable by applications without pulling in Caddy
// or anything else outside the standard library.
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
			t.Errorf("client imports %s; only the standard library is allowed", imp)
		}
	}
}
