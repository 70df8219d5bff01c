package hub

import (
	"math"
	"testing"
)

// A history size or subscriber buffer near the int limit used to overflow
// the log capacity (history + buffer) into a negative number, which left a
// log of one event: every subscriber two events behind was disconnected as
// slow, and replay held one event.
func TestHugeHistoryOrBufferKeepsAFullLog(t *testing.T) {
	for _, c := range []struct {
		name   string
		size   int
		buffer int
	}{
		{"huge history", math.MaxInt, 1024},
		{"huge buffer", 1000, math.MaxInt},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHub(t, Config{Channels: map[string]ChannelSettings{"c": {HistorySize: c.size}}, SubscriberBuffer: c.buffer}, nil)
			live := subscribe(t, h, []string{"c"}, "")
			ids := publishN(t, h, 5, "c")
			expectStream(t, drain(t, live), nil, ids)
			resumed := subscribe(t, h, []string{"c"}, ids[0])
			expectStream(t, drain(t, resumed), nil, ids[1:])
		})
	}
}
