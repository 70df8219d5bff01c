package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultHub is the hub an empty hub name means.
const DefaultHub = "default"

// Client talks to one Caddy admin endpoint. It is safe for concurrent use.
type Client struct {
	base   string // scheme://host[/prefix], no trailing slash
	origin string // Origin header value; empty for unix sockets
	hc     *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc, for
// example one with a client certificate for Caddy's remote admin endpoint
// (mTLS). hc replaces the default client entirely, including the unix
// socket dialer for "unix/" addresses.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// defaultTimeout bounds a request when the caller's context does not.
const defaultTimeout = 30 * time.Second

// New returns a client for the admin endpoint at admin, in any form Caddy's
// admin "listen" setting takes or a URL: "localhost:2019",
// "tcp/127.0.0.1:2019", "unix//run/caddy/admin.sock",
// "http://localhost:2019" or "https://caddy.example.com:2021".
//
// Without WithHTTPClient, a request gives up after 30 seconds; a context
// passed to a method can only shorten that.
func New(admin string, opts ...Option) (*Client, error) {
	c := &Client{hc: &http.Client{Timeout: defaultTimeout}}
	socket, err := c.parseAddress(admin)
	if err != nil {
		return nil, err
	}
	if socket != "" {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}
		c.hc.Transport = tr
	}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// parseAddress sets base and origin from an admin address and returns the
// unix socket path, if it names one.
func (c *Client) parseAddress(admin string) (socket string, err error) {
	admin = strings.TrimSpace(admin)
	if admin == "" {
		return "", errors.New("sse_hub client: empty admin address")
	}
	if network, rest, ok := strings.Cut(admin, "/"); ok && !strings.Contains(network, ":") {
		switch network {
		case "unix":
			// Caddy allows a "|0222"-style permission suffix on the path.
			path, _, _ := strings.Cut(rest, "|")
			if path == "" {
				return "", fmt.Errorf("sse_hub client: admin address %q: no socket path", admin)
			}
			// Caddy's admin endpoint skips Host and Origin checks on
			// unix sockets, and refuses an Origin it cannot match.
			c.base = "http://127.0.0.1"
			return path, nil
		case "tcp", "tcp4", "tcp6":
			admin = rest
		default:
			return "", fmt.Errorf("sse_hub client: admin address %q: network %q not supported (use host:port, unix/<path> or a URL)", admin, network)
		}
	}
	if !strings.Contains(admin, "://") {
		admin = "http://" + admin
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("sse_hub client: admin address: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("sse_hub client: admin address %q: scheme must be http or https", admin)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("sse_hub client: admin address %q: want host:port or scheme://host:port", admin)
	}
	c.origin = u.Scheme + "://" + u.Host
	c.base = c.origin + strings.TrimRight(u.EscapedPath(), "/")
	return "", nil
}

// do sends one request and decodes a 200 answer into out; any other
// status becomes an *Error.
func (c *Client) do(ctx context.Context, op, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("sse_hub %s: %w", op, err)
	}
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("sse_hub %s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return newError(op, resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("sse_hub %s: decoding the answer: %w", op, err)
	}
	return nil
}
