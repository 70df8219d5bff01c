package ssehub

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// BenchmarkAdminPublish measures the publish path through the admin
// handler: body reading, JSON decoding, validation, the hub and the JSON
// answer, for one event and for NDJSON batches of 100, with 100
// subscribers on the channel (they are woken, not read: fan-out has its
// own benchmarks).
func BenchmarkAdminPublish(b *testing.B) {
	hb, err := hub.New("bench-admin", hub.Config{
		Channels:         map[string]hub.ChannelSettings{"news": {HistorySize: 1000}},
		SubscriberBuffer: 1 << 20,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer hb.Close()
	hubs.LoadOrStore("bench-admin", &pooledHub{hub: hb})
	defer hubs.Delete("bench-admin")
	for range 100 {
		s, err := hb.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
	}
	event := `{"hub":"bench-admin","channel":"news","event":"tick","data":{"symbol":"ACME","price":101.25}}`
	for _, batch := range []int{1, 100} {
		body := strings.Repeat(event+"\n", batch)
		contentType := "application/json"
		if batch > 1 {
			contentType = "application/x-ndjson"
		}
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			api := new(AdminAPI)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/sse_hub/publish", strings.NewReader(body))
				r.Header.Set("Content-Type", contentType)
				w := httptest.NewRecorder()
				if err := api.handlePublish(w, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
		})
	}
}
