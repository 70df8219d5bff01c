package ssehub

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI serves sse_hub's routes on Caddy's admin endpoint:
//
//	POST   /sse_hub/publish                      one event (JSON), a batch (JSON array or NDJSON)
//	POST   /sse_hub/publish/<channel>            raw body = data; ?hub=&event=&retry=
//	GET    /sse_hub/hubs                         all hubs and their channels
//	GET    /sse_hub/hubs/<hub>                   one hub
//	GET    /sse_hub/hubs/<hub>/channels/<ch>     one channel
//	DELETE /sse_hub/hubs/<hub>/channels/<ch>     close a channel
//
// Caddy creates admin modules before the apps and gives them no config, so
// each request finds its hub in the package-level pool.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.sse_hub",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/sse_hub/publish", Handler: caddy.AdminHandlerFunc(a.handlePublish)},
		{Pattern: "/sse_hub/publish/", Handler: caddy.AdminHandlerFunc(a.handlePublishRaw)},
		{Pattern: "/sse_hub/hubs", Handler: caddy.AdminHandlerFunc(a.handleHubs)},
		{Pattern: "/sse_hub/hubs/", Handler: caddy.AdminHandlerFunc(a.handleHubs)},
	}
}

// publishedJSON is the answer for one published event.
type publishedJSON struct {
	ID string `json:"id"`
	// Subscribers is how many subscribers the event was queued to; with
	// Redis, on the node that answers only.
	Subscribers int `json:"subscribers"`
}

func (a *AdminAPI) handlePublish(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, http.MethodPost)
	}
	// The hub, and so its body limit, is named inside the body: read up to
	// the largest limit of any hub, then hold the body to its own hub's.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPublishBytes()))
	if err != nil {
		return bodyError(err)
	}
	hubName, drafts, batch, err := decodePublishBody(bytes.NewReader(body), isNDJSON(r.Header.Get("Content-Type")))
	if err != nil {
		return bodyError(err)
	}
	results, err := publish(w, hubName, drafts, len(body))
	if err != nil {
		return err
	}
	return writePublished(w, results, batch)
}

// writePublished answers a publish: one result, or {"events": [...]} for
// a batch.
func writePublished(w http.ResponseWriter, results []publishedJSON, batch bool) error {
	if !batch {
		return writeJSON(w, results[0])
	}
	return writeJSON(w, struct {
		Events []publishedJSON `json:"events"`
	}{results})
}

func (a *AdminAPI) handlePublishRaw(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, http.MethodPost)
	}
	channel := strings.TrimPrefix(r.URL.Path, "/sse_hub/publish/")
	q := r.URL.Query()
	hubName := cmp.Or(q.Get("hub"), DefaultHub)
	if err := checkHeap(hubName); err != nil {
		return refuseLowMemory(w, hubName, err) // before reading the body
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPublishBytes()))
	if err != nil {
		return bodyError(err)
	}
	d, err := rawDraft([]string{channel}, q, data)
	if err != nil {
		countPublishError("", "bad_request")
		return apiError(http.StatusBadRequest, err)
	}
	results, err := publish(w, hubName, []hub.Draft{d}, len(data))
	if err != nil {
		return err
	}
	return writeJSON(w, results[0])
}

// publish sends drafts, read from a body of bodySize bytes, to a hub as
// one batch.
func publish(w http.ResponseWriter, hubName string, drafts []hub.Draft, bodySize int) ([]publishedJSON, error) {
	hb, ok := lookupHub(hubName)
	if !ok {
		countPublishError("", "not_found")
		return nil, apiError(http.StatusNotFound, fmt.Errorf("no hub %q: no sse_hub handler in the running config names it", hubName))
	}
	if err := checkHeap(hubName); err != nil {
		return nil, refuseLowMemory(w, hubName, err)
	}
	if limit := hb.Limits().MaxPublishBytes; int64(bodySize) > limit {
		countPublishError(hubName, "max_publish_bytes")
		return nil, apiError(http.StatusRequestEntityTooLarge, fmt.Errorf("request body is %d bytes; hub %q accepts at most %d (max_publish_bytes)", bodySize, hubName, limit))
	}
	results, err := hb.Publish(drafts...)
	if err != nil {
		countPublishError(hubName, hub.Reason(err))
		return nil, apiError(statusOf(err), err)
	}
	return toJSON(results), nil
}

func toJSON(results []hub.PublishResult) []publishedJSON {
	out := make([]publishedJSON, len(results))
	for i, res := range results {
		out[i] = publishedJSON{ID: res.ID.String(), Subscribers: res.Subscribers}
	}
	return out
}

// handleHubs serves the list, info and close routes.
func (a *AdminAPI) handleHubs(w http.ResponseWriter, r *http.Request) error {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/sse_hub/hubs"), "/")
	parts := strings.Split(rest, "/")
	switch {
	case rest == "":
		if r.Method != http.MethodGet {
			return methodNotAllowed(w, http.MethodGet)
		}
		list := allHubs()
		infos := make([]hub.HubInfo, len(list))
		for i, hb := range list {
			infos[i] = hb.Info()
		}
		return writeJSON(w, infos)
	case len(parts) == 1:
		if r.Method != http.MethodGet {
			return methodNotAllowed(w, http.MethodGet)
		}
		hb, err := findHub(parts[0])
		if err != nil {
			return err
		}
		return writeJSON(w, hb.Info())
	case len(parts) == 3 && parts[1] == "channels":
		hb, err := findHub(parts[0])
		if err != nil {
			return err
		}
		switch r.Method {
		case http.MethodGet:
			info, err := hb.ChannelInfo(parts[2])
			if err != nil {
				return apiError(statusOf(err), err)
			}
			return writeJSON(w, info)
		case http.MethodDelete:
			if err := hb.CloseChannel(parts[2]); err != nil {
				return apiError(statusOf(err), err)
			}
			return writeJSON(w, struct {
				Closed string `json:"closed"`
			}{parts[2]})
		}
		return methodNotAllowed(w, http.MethodGet+", "+http.MethodDelete)
	}
	return apiError(http.StatusNotFound, fmt.Errorf("no such route: use /sse_hub/hubs, /sse_hub/hubs/<hub> or /sse_hub/hubs/<hub>/channels/<channel>"))
}

func findHub(name string) (*hub.Hub, error) {
	hb, ok := lookupHub(name)
	if !ok {
		return nil, apiError(http.StatusNotFound, fmt.Errorf("no hub %q", name))
	}
	return hb, nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// refuseLowMemory answers a publish refused under max_heap_bytes: 503,
// and a Retry-After of a second, the heap sampling period's order.
func refuseLowMemory(w http.ResponseWriter, hubName string, err error) error {
	countPublishError(hubName, "max_heap")
	w.Header().Set("Retry-After", "1")
	return apiError(http.StatusServiceUnavailable, err)
}

func apiError(status int, err error) error {
	return caddy.APIError{HTTPStatus: status, Err: err}
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return apiError(http.StatusMethodNotAllowed, fmt.Errorf("method not allowed: use %s", allow))
}

// bodyError answers a publish body that could not be read or decoded,
// before it is known which hub it names: 413 when oversized, else 400.
func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		countPublishError("", "max_publish_bytes")
		return apiError(http.StatusRequestEntityTooLarge, fmt.Errorf("request body is over %d bytes, more than any hub accepts (max_publish_bytes)", tooLarge.Limit))
	}
	countPublishError("", "bad_request")
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		status = http.StatusBadRequest
	}
	return apiError(status, err)
}

// Interface guards
var _ caddy.AdminRouter = (*AdminAPI)(nil)
