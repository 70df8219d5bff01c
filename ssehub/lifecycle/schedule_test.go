package lifecycle

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	start := time.Unix(1_750_000_000, 0)
	s := NewSchedule(start, 15*time.Second, time.Minute)
	if next := s.Next(); next != start.Add(15*time.Second) {
		t.Fatalf("first due at %v, want the heartbeat at +15s", next.Sub(start))
	}
	for _, c := range []struct {
		at   time.Duration
		want Due
	}{
		{14 * time.Second, 0},
		{15 * time.Second, DueHeartbeat},
		{16 * time.Second, 0}, // the beat moved on
		{30 * time.Second, DueHeartbeat},
		{time.Minute, DueHeartbeat | DueLifetime},
	} {
		if got := s.Due(start.Add(c.at)); got != c.want {
			t.Errorf("at +%v: due %b, want %b", c.at, got, c.want)
		}
	}
	if reason, ends := (DueHeartbeat | DueLifetime).Ends(); !ends || reason != MaxLifetime {
		t.Errorf("lifetime due: ends %v %q", ends, reason)
	}
	if reason, ends := (DueLifetime | DueDrain).Ends(); !ends || reason != ReloadDrain {
		t.Errorf("drain and lifetime due: ends %v %q, want the drain", ends, reason)
	}
	if _, ends := DueHeartbeat.Ends(); ends {
		t.Error("a heartbeat ends the stream")
	}
}

func TestScheduleLifetimeJitterAndDrain(t *testing.T) {
	start := time.Unix(1_750_000_000, 0)
	for range 100 {
		s := NewSchedule(start, 0, 10*time.Second)
		if next := s.Next().Sub(start); next <= 9*time.Second || next > 10*time.Second {
			t.Fatalf("lifetime end at +%v, want in (9s, 10s]", next)
		}
		s.Drain(start, time.Second)
		drainAt := s.Next()
		if d := drainAt.Sub(start); d < 0 || d >= time.Second {
			t.Fatalf("drain at +%v, want within the 1s window", d)
		}
		s.Drain(start.Add(5*time.Second), time.Second)
		if s.Next() != drainAt {
			t.Fatal("a second Drain moved the drain moment")
		}
	}
	if !NewSchedule(start, 0, 0).Next().IsZero() {
		t.Error("a schedule with nothing to do has a next moment")
	}
}
