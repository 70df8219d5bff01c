package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"
)

// Event is one event to publish.
type Event struct {
	// Hub is the hub name; empty means "default".
	Hub string
	// Channels names the target channels (at least one). An event sent
	// to several channels reaches a subscriber of more than one of them once.
	Channels []string
	// Type is the event type ("event:" line); empty means "message".
	// It must not contain CR or LF.
	Type string
	// Data is the event's text. Line breaks become separate "data:" lines,
	// which an EventSource joins with LF. To send JSON, marshal it first.
	Data string
	// Retry, if positive, tells clients how long to wait before they
	// reconnect; it is sent in whole milliseconds, rounded up.
	Retry time.Duration
}

// Result is what the hub did with one published event.
type Result struct {
	// ID is the event ID the hub assigned.
	ID string `json:"id"`
	// Subscribers is how many distinct subscribers the event was queued to.
	Subscribers int `json:"subscribers"`
}

// wireEvent is Event as the admin API's JSON body spells it.
type wireEvent struct {
	Hub      string   `json:"hub,omitempty"`
	Channels []string `json:"channels"`
	Event    string   `json:"event,omitempty"`
	Data     string   `json:"data"`
	Retry    *int64   `json:"retry,omitempty"`
}

// wire checks what JSON cannot carry faithfully and converts the event.
func (e Event) wire() (wireEvent, error) {
	// encoding/json would silently replace invalid bytes with U+FFFD.
	if !utf8.ValidString(e.Data) || !utf8.ValidString(e.Type) {
		return wireEvent{}, errors.New("event type and data must be valid UTF-8")
	}
	w := wireEvent{Hub: e.Hub, Channels: e.Channels, Event: e.Type, Data: e.Data}
	if e.Retry != 0 {
		ms := int64(e.Retry / time.Millisecond)
		if e.Retry%time.Millisecond > 0 {
			ms++
		}
		w.Retry = &ms
	}
	return w, nil
}

// Publish publishes one event.
func (c *Client) Publish(ctx context.Context, ev Event) (Result, error) {
	wire, err := ev.wire()
	if err != nil {
		return Result{}, fmt.Errorf("sse_hub publish: %w", err)
	}
	body, err := json.Marshal(wire)
	if err != nil {
		return Result{}, fmt.Errorf("sse_hub publish: %w", err)
	}
	var res Result
	err = c.do(ctx, "publish", http.MethodPost, "/sse_hub/publish", "application/json", bytes.NewReader(body), &res)
	return res, err
}

// PublishBatch publishes events atomically: they must all name the same
// hub, they get consecutive IDs, and if any one is refused none is
// published. The results are in the order of events.
func (c *Client) PublishBatch(ctx context.Context, events []Event) ([]Result, error) {
	wire := make([]wireEvent, len(events))
	for i, ev := range events {
		w, err := ev.wire()
		if err != nil {
			return nil, fmt.Errorf("sse_hub publish: event %d: %w", i, err)
		}
		wire[i] = w
	}
	body, err := json.Marshal(wire)
	if err != nil {
		return nil, fmt.Errorf("sse_hub publish: %w", err)
	}
	return c.batch(ctx, "application/json", bytes.NewReader(body))
}

// PublishNDJSON publishes a batch given as newline-delimited JSON: one
// event object per line, in the admin API's own format (where "data" may
// be any JSON value). It is published atomically, like PublishBatch.
func (c *Client) PublishNDJSON(ctx context.Context, ndjson io.Reader) ([]Result, error) {
	return c.batch(ctx, "application/x-ndjson", ndjson)
}

func (c *Client) batch(ctx context.Context, contentType string, body io.Reader) ([]Result, error) {
	var res struct {
		Events []Result `json:"events"`
	}
	if err := c.do(ctx, "publish", http.MethodPost, "/sse_hub/publish", contentType, body, &res); err != nil {
		return nil, err
	}
	return res.Events, nil
}
