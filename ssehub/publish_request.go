package ssehub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// publishRequest is one event in a publish body.
type publishRequest struct {
	// Hub defaults to "default".
	Hub string `json:"hub"`
	// Channel or Channels names the target channels; give one of them.
	Channel  string   `json:"channel"`
	Channels []string `json:"channels"`
	// Event is the event type; empty means "message".
	Event string `json:"event"`
	// Data is the payload: a JSON string is sent as its text, any other
	// JSON value as its compact JSON text.
	Data json.RawMessage `json:"data"`
	// Retry is an optional reconnection delay in milliseconds.
	Retry *int64 `json:"retry"`
	// ID is refused: the hub assigns IDs.
	ID json.RawMessage `json:"id"`
}

// decodePublishBody reads one JSON object, a JSON array of them, or (when
// ndjson is true) one object per line. It returns the hub name, the drafts
// and whether the body was a batch; every event must target the same hub,
// so a batch is published atomically.
func decodePublishBody(body io.Reader, ndjson bool) (hubName string, drafts []hub.Draft, batch bool, err error) {
	var reqs []publishRequest
	if ndjson {
		reqs, err = decodeNDJSON(body)
		batch = true
	} else {
		reqs, batch, err = decodeJSON(body)
	}
	if err != nil {
		return "", nil, false, err
	}
	if len(reqs) == 0 {
		return "", nil, false, hub.Errorf(hub.ErrInvalid, "no event in the request body")
	}
	hubName = reqs[0].Hub
	drafts = make([]hub.Draft, len(reqs))
	for i, req := range reqs {
		if req.Hub != hubName {
			return "", nil, false, hub.Errorf(hub.ErrInvalid, "event %d: every event of a batch must name the same hub (%q, not %q)", i, hubName, req.Hub)
		}
		d, err := req.draft()
		if err != nil {
			if batch {
				return "", nil, false, fmt.Errorf("event %d: %w", i, err)
			}
			return "", nil, false, err
		}
		drafts[i] = d
	}
	if hubName == "" {
		hubName = DefaultHub
	}
	return hubName, drafts, batch, nil
}

func decodeJSON(body io.Reader) (reqs []publishRequest, batch bool, err error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		return nil, false, err
	}
	if !utf8.Valid(raw) {
		return nil, false, errNotUTF8
	}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err := strictUnmarshal(raw, &reqs)
		return reqs, true, err
	}
	var req publishRequest
	if err := strictUnmarshal(raw, &req); err != nil {
		return nil, false, err
	}
	return []publishRequest{req}, false, nil
}

// decodeNDJSON reads the whole body before decoding any line, as
// decodeJSON does: a body cut short by the size limit must answer 413 with
// the limit's error, not 400 for the half line where it was cut.
func decodeNDJSON(body io.Reader) ([]publishRequest, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	var reqs []publishRequest
	line := 0
	for text := range bytes.Lines(raw) {
		line++
		text = bytes.TrimSpace(text)
		if !utf8.Valid(text) {
			return nil, fmt.Errorf("line %d: %w", line, errNotUTF8)
		}
		if len(text) == 0 {
			continue
		}
		var req publishRequest
		if err := strictUnmarshal(text, &req); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		reqs = append(reqs, req)
	}
	return reqs, nil
}

// strictUnmarshal decodes exactly one JSON value with no unknown fields.
func strictUnmarshal(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			// Say it in the API's terms, not Go's ("Go struct field ...").
			return hub.Errorf(hub.ErrInvalid, "malformed JSON: %q must not be a JSON %s", typeErr.Field, typeErr.Value)
		}
		return hub.Errorf(hub.ErrInvalid, "malformed JSON: %v", err)
	}
	if dec.More() {
		return hub.Errorf(hub.ErrInvalid, "malformed JSON: more than one value (send an array, or NDJSON with Content-Type: application/x-ndjson)")
	}
	return nil
}

// draft checks the fields a JSON event may carry and builds the core draft.
func (req publishRequest) draft() (hub.Draft, error) {
	d := hub.Draft{Type: req.Event, Retry: hub.NoRetry}
	if req.ID != nil {
		return d, hub.Errorf(hub.ErrInvalid, "\"id\" is assigned by the hub; remove it")
	}
	switch {
	case req.Channel != "" && req.Channels != nil:
		return d, hub.Errorf(hub.ErrInvalid, "give \"channel\" or \"channels\", not both")
	case req.Channel != "":
		d.Channels = []string{req.Channel}
	case len(req.Channels) > 0:
		d.Channels = req.Channels
	default:
		return d, hub.Errorf(hub.ErrInvalid, "\"channel\" (or \"channels\") is required")
	}
	if req.Data == nil {
		return d, hub.Errorf(hub.ErrInvalid, "\"data\" is required (use \"\" for an empty event)")
	}
	data, err := dataText(req.Data)
	if err != nil {
		return d, err
	}
	d.Data = data
	if req.Retry != nil {
		if *req.Retry < 0 {
			return d, hub.Errorf(hub.ErrInvalid, "\"retry\" must be a non-negative number of milliseconds")
		}
		d.Retry = *req.Retry
	}
	return d, nil
}

// dataText turns the JSON "data" value into the event's text.
func dataText(raw json.RawMessage) (string, error) {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", hub.Errorf(hub.ErrInvalid, "\"data\": %v", err)
		}
		return s, nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return "", hub.Errorf(hub.ErrInvalid, "\"data\": %v", err)
	}
	return compact.String(), nil
}

// isNDJSON reports whether a Content-Type names newline-delimited JSON.
func isNDJSON(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(strings.ToLower(ct))
	return ct == "application/x-ndjson" || ct == "application/ndjson" || ct == "application/jsonl"
}

// errNotUTF8 is checked before decoding, because encoding/json would
// silently replace invalid bytes with U+FFFD and alter the event.
var errNotUTF8 = hub.Errorf(hub.ErrInvalid, "request body is not valid UTF-8")

// rawDraft builds the event of a raw-body publish: the body is the data,
// the query may give "event" and "retry".
func rawDraft(channels []string, q url.Values, body []byte) (hub.Draft, error) {
	d := hub.Draft{Channels: channels, Type: q.Get("event"), Data: string(body), Retry: hub.NoRetry}
	if v := q.Get("retry"); v != "" {
		ms, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return d, hub.Errorf(hub.ErrInvalid, "retry %q: must be a non-negative number of milliseconds", v)
		}
		d.Retry = int64(ms)
	}
	return d, nil
}
