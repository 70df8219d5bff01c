package hub

import (
	"slices"
	"testing"
	"time"
)

var fixedTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// logEvent is event number i: ID i-0, published i seconds after fixedTime.
func logEvent(i int) *Event {
	return &Event{ID: ID{Ms: uint64(i)}, PublishedAt: fixedTime.Add(time.Duration(i) * time.Second)}
}

// logContents lists the event numbers held, oldest first, checking that
// every absolute position in [start, end) is addressable.
func logContents(t *testing.T, l *eventLog) []int {
	t.Helper()
	var got []int
	for pos := l.start; pos < l.end; pos++ {
		e := l.at(pos)
		if e == nil {
			t.Fatalf("position %d in [%d, %d) holds nil", pos, l.start, l.end)
		}
		got = append(got, int(e.ID.Ms))
	}
	if len(got) != l.len() {
		t.Fatalf("len() = %d, but %d events held", l.len(), len(got))
	}
	return got
}

func span(from, to int) []int { // [from, to]
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func appendEvents(l *eventLog, from, to int) {
	for i := from; i <= to; i++ {
		l.append(logEvent(i))
	}
}

func TestEventLogAppendEvictWrap(t *testing.T) {
	tests := []struct {
		capacity, appends int
		wantHeld          []int
		wantStart         uint64
		wantEvicted       ID
	}{
		{capacity: 5, appends: 0, wantHeld: nil, wantStart: 0},
		{capacity: 5, appends: 3, wantHeld: span(1, 3), wantStart: 0},
		{capacity: 5, appends: 5, wantHeld: span(1, 5), wantStart: 0},
		{capacity: 5, appends: 6, wantHeld: span(2, 6), wantStart: 1, wantEvicted: ID{Ms: 1}},
		{capacity: 5, appends: 23, wantHeld: span(19, 23), wantStart: 18, wantEvicted: ID{Ms: 18}},
		{capacity: 1, appends: 4, wantHeld: []int{4}, wantStart: 3, wantEvicted: ID{Ms: 3}},
		{capacity: 0, appends: 2, wantHeld: []int{2}, wantStart: 1, wantEvicted: ID{Ms: 1}}, // at least 1
		{capacity: 8, appends: 8, wantHeld: span(1, 8), wantStart: 0},
		{capacity: 8, appends: 17, wantHeld: span(10, 17), wantStart: 9, wantEvicted: ID{Ms: 9}},
		{capacity: 100, appends: 70, wantHeld: span(1, 70), wantStart: 0},
		{capacity: 100, appends: 250, wantHeld: span(151, 250), wantStart: 150, wantEvicted: ID{Ms: 150}},
	}
	for _, tt := range tests {
		l := newEventLog(tt.capacity)
		appendEvents(&l, 1, tt.appends)
		got := logContents(t, &l)
		if !slices.Equal(got, tt.wantHeld) {
			t.Errorf("cap %d, %d appends: held %v, want %v", tt.capacity, tt.appends, got, tt.wantHeld)
		}
		if l.start != tt.wantStart || l.end != uint64(tt.appends) {
			t.Errorf("cap %d, %d appends: [start, end) = [%d, %d), want [%d, %d)", tt.capacity, tt.appends, l.start, l.end, tt.wantStart, tt.appends)
		}
		if l.evictedUpTo != tt.wantEvicted {
			t.Errorf("cap %d, %d appends: evictedUpTo = %v, want %v", tt.capacity, tt.appends, l.evictedUpTo, tt.wantEvicted)
		}
		if len(l.ring) > max(tt.capacity, 1) {
			t.Errorf("cap %d: ring has %d slots, more than the capacity", tt.capacity, len(l.ring))
		}
	}
}

// The ring grows by doubling as it fills, so an idle channel with a big
// history setting costs little, and growing keeps every position in place.
func TestEventLogGrowsAsItFills(t *testing.T) {
	l := newEventLog(1000)
	if len(l.ring) != 0 {
		t.Fatalf("a new log allocated %d slots up front", len(l.ring))
	}
	for i := 1; i <= 1000; i++ {
		l.append(logEvent(i))
		if len(l.ring) < l.len() || len(l.ring) > max(8, 2*l.len()) {
			t.Fatalf("after %d appends the ring has %d slots", i, len(l.ring))
		}
		if i == 1 || i == 9 || i == 500 || i == 1000 {
			if got := logContents(t, &l); !slices.Equal(got, span(1, i)) {
				t.Fatalf("after %d appends held %v", i, got)
			}
		}
	}
	if len(l.ring) != 1000 {
		t.Errorf("full log has %d slots, want the capacity 1000", len(l.ring))
	}
	l.append(logEvent(1001))
	if got := logContents(t, &l); !slices.Equal(got, span(2, 1001)) || l.start != 1 {
		t.Errorf("after the first eviction held %d events from position %d", len(got), l.start)
	}
}

func TestEventLogFirstAfter(t *testing.T) {
	l := newEventLog(4)
	if got := l.firstAfter(ID{Ms: 3}); got != 0 {
		t.Errorf("empty log: firstAfter = %d, want end 0", got)
	}
	// Hold IDs 30, 40, 50, 60 at positions 2..5 (10 and 20 evicted).
	for _, ms := range []uint64{10, 20, 30, 40, 50, 60} {
		l.append(&Event{ID: ID{Ms: ms}})
	}
	tests := []struct {
		id   ID
		want uint64
	}{
		{ID{}, 2},
		{ID{Ms: 10}, 2},
		{ID{Ms: 29, Seq: 99}, 2},
		{ID{Ms: 30}, 3},
		{ID{Ms: 30, Seq: 1}, 3},
		{ID{Ms: 45}, 4},
		{ID{Ms: 59}, 5},
		{ID{Ms: 60}, 6},
		{ID{Ms: 1 << 60}, 6},
	}
	for _, tt := range tests {
		if got := l.firstAfter(tt.id); got != tt.want {
			t.Errorf("firstAfter(%v) = %d, want %d", tt.id, got, tt.want)
		}
	}
}

func TestEventLogPruneOlderThan(t *testing.T) {
	l := newEventLog(50)
	appendEvents(&l, 1, 20) // published at +1s .. +20s

	if n := l.pruneOlderThan(fixedTime.Add(5 * time.Second)); n != 4 {
		t.Errorf("pruned %d events before +5s, want 4 (an event exactly at the cutoff stays)", n)
	}
	if got := logContents(t, &l); !slices.Equal(got, span(5, 20)) {
		t.Errorf("held %v", got)
	}
	if l.evictedUpTo != (ID{Ms: 4}) || l.start != 4 {
		t.Errorf("evictedUpTo = %v, start = %d; want 4-0 and 4", l.evictedUpTo, l.start)
	}
	if got := l.firstPublishedAtOrAfter(fixedTime.Add(9500 * time.Millisecond)); got != 9 {
		t.Errorf("firstPublishedAtOrAfter(+9.5s) = %d, want position 9 (event 10)", got)
	}
	if n := l.pruneOlderThan(fixedTime); n != 0 {
		t.Errorf("pruned %d events with a cutoff before all of them", n)
	}

	// Emptying the log gives the ring back; positions keep counting.
	if n := l.pruneOlderThan(fixedTime.Add(time.Hour)); n != 16 {
		t.Errorf("pruned %d, want the remaining 16", n)
	}
	if l.len() != 0 || l.ring != nil || l.start != 20 || l.end != 20 || l.evictedUpTo != (ID{Ms: 20}) {
		t.Errorf("emptied log: len %d, ring %d slots, [%d, %d), evictedUpTo %v", l.len(), len(l.ring), l.start, l.end, l.evictedUpTo)
	}
	if got := l.firstAfter(ID{Ms: 1}); got != 20 {
		t.Errorf("firstAfter on an emptied log = %d, want end 20", got)
	}
	appendEvents(&l, 21, 22)
	if got := logContents(t, &l); !slices.Equal(got, []int{21, 22}) || l.start != 20 {
		t.Errorf("after refilling: held %v from %d", got, l.start)
	}
}

func TestEventLogResize(t *testing.T) {
	tests := []struct {
		name              string
		capacity, appends int
		resizeTo          int
		wantHeld          []int
		wantStart         uint64
		wantEvicted       ID
		thenAppend        int // appends after the resize
		wantHeldAfter     []int
	}{
		{name: "shrink full wrapped log", capacity: 10, appends: 25, resizeTo: 4,
			wantHeld: span(22, 25), wantStart: 21, wantEvicted: ID{Ms: 21},
			thenAppend: 3, wantHeldAfter: span(25, 28)},
		{name: "shrink partly filled log below its length", capacity: 100, appends: 30, resizeTo: 10,
			wantHeld: span(21, 30), wantStart: 20, wantEvicted: ID{Ms: 20},
			thenAppend: 1, wantHeldAfter: span(22, 31)},
		{name: "shrink above length keeps all", capacity: 100, appends: 5, resizeTo: 10,
			wantHeld: span(1, 5), wantStart: 0,
			thenAppend: 6, wantHeldAfter: span(2, 11)},
		{name: "grow full wrapped log", capacity: 4, appends: 7, resizeTo: 10,
			wantHeld: span(4, 7), wantStart: 3, wantEvicted: ID{Ms: 3},
			thenAppend: 7, wantHeldAfter: span(5, 14)},
		{name: "same size", capacity: 5, appends: 9, resizeTo: 5,
			wantHeld: span(5, 9), wantStart: 4, wantEvicted: ID{Ms: 4},
			thenAppend: 1, wantHeldAfter: span(6, 10)},
		{name: "to zero keeps one", capacity: 5, appends: 3, resizeTo: 0,
			wantHeld: []int{3}, wantStart: 2, wantEvicted: ID{Ms: 2},
			thenAppend: 2, wantHeldAfter: []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newEventLog(tt.capacity)
			appendEvents(&l, 1, tt.appends)
			end := l.end
			l.resize(tt.resizeTo)
			if got := logContents(t, &l); !slices.Equal(got, tt.wantHeld) {
				t.Errorf("after resize held %v, want %v", got, tt.wantHeld)
			}
			if l.start != tt.wantStart || l.end != end {
				t.Errorf("after resize [start, end) = [%d, %d), want [%d, %d): positions must not move", l.start, l.end, tt.wantStart, end)
			}
			if l.evictedUpTo != tt.wantEvicted {
				t.Errorf("evictedUpTo = %v, want %v", l.evictedUpTo, tt.wantEvicted)
			}
			if len(l.ring) > l.capacity {
				t.Errorf("ring has %d slots, over the new capacity %d", len(l.ring), l.capacity)
			}
			// Absolute positions still address the same events.
			for pos := l.start; pos < l.end; pos++ {
				if got := l.at(pos).ID.Ms; got != pos+1 {
					t.Fatalf("position %d holds event %d, want %d", pos, got, pos+1)
				}
			}
			appendEvents(&l, tt.appends+1, tt.appends+tt.thenAppend)
			if got := logContents(t, &l); !slices.Equal(got, tt.wantHeldAfter) {
				t.Errorf("after %d more appends held %v, want %v", tt.thenAppend, got, tt.wantHeldAfter)
			}
		})
	}
}
