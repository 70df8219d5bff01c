package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 15: a subscriber that keeps reading is never cut and loses nothing
// whatever the batch size; one that stops is cut by the slow-consumer rule
// (backlog over the buffer for the 10s grace; the janitor checks every
// second) even while its write is blocked. write_timeout is set far above
// that, so only the rule can cut it.
func TestLargestBatchToFastReadersAndAStoppedOne(t *testing.T) {
	for _, path := range []string{"/events", "/lean"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			hubName := "burst" + strings.TrimPrefix(path, "/")
			loadCaddyfile(t, leanSite(hubName, `
		channel news {
			history_size 100
		}
		write_timeout 60s
		max_subscribers_per_ip unlimited
`))
			stuck := dialStuck(t, path+"/news")
			const readers, batch = 100, 10_000
			streams := make([]*stream, readers)
			for i := range streams {
				streams[i] = subscribe(t, path+"/news", nil)
				requireLean(t, streams[i], path == "/lean")
			}
			waitSubscribers(t, hubName, "news", readers+1)

			// Small events: 100 race-instrumented parsers on a shared
			// 2-core machine must read them well within the grace.
			lines := make([]string, batch)
			for i := range lines {
				lines[i] = fmt.Sprintf(`{"hub":%q,"channel":"news","data":"%d"}`, hubName, i)
			}
			ids := publishBatch(t, lines)
			var wg sync.WaitGroup
			errs := make(chan string, readers)
			for r, s := range streams {
				wg.Go(func() {
					for i := range batch {
						select {
						case ev, ok := <-s.events:
							if !ok {
								errs <- fmt.Sprintf("reader %d: stream ended after %d of %d events", r, i, batch)
								return
							}
							if ev.LastEventID != ids[i].ID {
								errs <- fmt.Sprintf("reader %d: event %d is %q (%s), want %q", r, i, ev.LastEventID, ev.Type, ids[i].ID)
								return
							}
						case <-time.After(60 * time.Second):
							errs <- fmt.Sprintf("reader %d: only %d of %d events within 60s", r, i, batch)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			if t.Failed() {
				return
			}
			for _, s := range streams {
				s.close()
			}
			// The stopped reader: fill its socket so its write blocks, with
			// far more than subscriber_buffer_bytes (8 MiB) beyond it.
			big := strings.Repeat("b", 256<<10)
			for range 64 {
				publishJSON(t, `{"hub":"`+hubName+`","channel":"news","data":"`+big+`"}`)
			}
			start := time.Now() // the backlog went over the bound before this

			waitFor(t, "the stopped reader to be cut", 20*time.Second, func() bool {
				info, status := getChannel(t, hubName, "news")
				return status == http.StatusOK && info.Subscribers == 0
			})
			took := time.Since(start)
			t.Logf("stopped reader cut %v after the publishing ended", took)
			if took > 13*time.Second {
				t.Errorf("the stopped reader was cut after %v; the rule says within the 10s grace plus the janitor's second", took)
			}
			var totals struct {
				Totals struct {
					SlowDisconnects int `json:"slow_disconnects"`
				} `json:"totals"`
			}
			_, body := adminRequest(t, http.MethodGet, "/sse_hub/hubs/"+hubName, "", "")
			mustUnmarshal(t, body, &totals)
			if totals.Totals.SlowDisconnects != 1 {
				t.Errorf("slow_disconnects = %d, want 1 (the stopped reader, cut by the rule rather than the write timeout)", totals.Totals.SlowDisconnects)
			}
			// Its stream ends (what the socket held, then EOF).
			if err := stuck.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(stuck), nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("the stopped reader's response: %v", err)
			}
			// Cut mid-write, the body ends without its last chunk: any
			// end of the stream will do, not the read deadline.
			if _, err := io.Copy(io.Discard, resp.Body); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("the stopped reader's stream did not end: %v", err)
			}
		})
	}
}
