package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestHistoryBoundedByBytesUnderHugePublishes: a publisher sends 16 MiB
// bodies (16 events of 1 MiB) to ever new on-demand channels. Without a
// byte bound every channel would keep its events (1,000 channels × 1,000
// events); with max_history_bytes the live heap stays under the bound plus
// a documented slack (the request body being decoded and Caddy itself),
// and a client resuming from the start of a channel whose events were
// pushed out is told so.
func TestHistoryBoundedByBytesUnderHugePublishes(t *testing.T) {
	const hubName = "membound"
	const bound = 32 << 20
	const slack = 48 << 20 // one 16 MiB body read and decoded, and Caddy's own
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /events/* {
		hub `+hubName+`
		on_demand room-*
		max_history_bytes 32MiB
		history_max_age 0
	}
}`)
	_, base := settle()
	payload := strings.Repeat("m", 1<<20-1024) // 16 of them and their JSON fit in 16 MiB
	var first published
	var peak uint64
	for round := range 12 { // 192 MiB published, six times the bound
		lines := make([]string, 16)
		for i := range lines {
			lines[i] = fmt.Sprintf(`{"hub":%q,"channel":"room-%d","data":%q}`, hubName, round, payload)
		}
		res := publishBatch(t, lines)
		if round == 0 {
			first = res[0]
		}
		_, heap := settle()
		peak = max(peak, heap)
	}
	t.Logf("192 MiB published in 16 MiB bodies: live heap %d MiB at the start, peak %d MiB (bound %d MiB)", base>>20, peak>>20, bound>>20)
	if peak > base+bound+slack {
		t.Errorf("live heap peaked at %d MiB, over the start (%d MiB) plus the %d MiB bound plus %d MiB slack", peak>>20, base>>20, bound>>20, slack>>20)
	}
	st := hubTotals(t, hubName)
	if st.HistoryBytes > bound {
		t.Errorf("history holds %d bytes, over max_history_bytes %d", st.HistoryBytes, bound)
	}
	// room-0's events were pushed out first: a client resuming there is
	// told about the gap.
	s := subscribe(t, "/events/room-0", http.Header{"Last-Event-Id": {first.ID}})
	if ev := s.next(t); ev.Type != "sse_hub.gap" || !strings.Contains(ev.Data, `"expired"`) {
		t.Errorf("resuming from an evicted event: got %+v, want an sse_hub.gap expired", ev)
	}
}
