package hub

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseIDRejects(t *testing.T) {
	for _, s := range []string{
		"", "1", "1-", "-1", "-", "+1-2", "1-+2", "1--2", "1-2-3", "a-b", "1-b", "a-1",
		" 1-2", "1-2 ", "1 -2", "1- 2", "1-2\n", "1-2\x00", "0x1-2", "1.5-2", "1-2.0", "１-2",
		"18446744073709551616-0",                    // Ms overflows uint64
		"0-18446744073709551616",                    // Seq overflows uint64
		"99999999999999999999-99999999999999999999", // both overflow, length still allowed
		strings.Repeat("1", 30) + "-1",
		strings.Repeat("1", 1<<16) + "-" + strings.Repeat("2", 1<<16),
	} {
		if id, err := ParseID(s); err == nil {
			t.Errorf("ParseID(%q) = %v, want an error", abbrev(s), id)
		}
	}
}

func TestParseIDAccepts(t *testing.T) {
	tests := []struct {
		in   string
		want ID
	}{
		{"0-0", ID{}},
		{"1-2", ID{1, 2}},
		{"1700000000000-42", ID{1700000000000, 42}},
		{"18446744073709551615-18446744073709551615", ID{math.MaxUint64, math.MaxUint64}},
	}
	for _, tt := range tests {
		got, err := ParseID(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseID(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestIDStringParseRoundTrip(t *testing.T) {
	ids := []ID{{}, {0, 1}, {1, 0}, {1700000000000, 0}, {1700000000000, 99}, {math.MaxUint64, 0}, {0, math.MaxUint64}, {math.MaxUint64, math.MaxUint64}}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		ids = append(ids, ID{Ms: r.Uint64() >> r.IntN(64), Seq: r.Uint64() >> r.IntN(64)})
	}
	for _, id := range ids {
		s := id.String()
		if len(s) > maxIDLength {
			t.Fatalf("%v.String() is %d bytes, over maxIDLength", id, len(s))
		}
		got, err := ParseID(s)
		if err != nil || got != id {
			t.Fatalf("ParseID(%q) = %v, %v; want %v", s, got, err, id)
		}
	}
	if s := (ID{Ms: 12, Seq: 3}).String(); s != "12-3" {
		t.Errorf("String() = %q, want 12-3", s)
	}
}

func TestIDLess(t *testing.T) {
	tests := []struct {
		a, b ID
		less bool
	}{
		{ID{1, 0}, ID{2, 0}, true},
		{ID{1, 5}, ID{2, 0}, true},
		{ID{1, 0}, ID{1, 1}, true},
		{ID{1, 1}, ID{1, 1}, false},
		{ID{2, 0}, ID{1, 9}, false},
		{ID{1, 1}, ID{1, 0}, false},
	}
	for _, tt := range tests {
		if got := tt.a.Less(tt.b); got != tt.less {
			t.Errorf("%v.Less(%v) = %v, want %v", tt.a, tt.b, got, tt.less)
		}
	}
	if !(ID{}).IsZero() || (ID{0, 1}).IsZero() {
		t.Error("IsZero is wrong")
	}
}

func TestNextIDMonotonic(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	// Clock readings in ms relative to base, including repeats and steps back.
	steps := []int64{0, 0, 0, 1, 1, 5, 4, 3, -1000, 5, 6, 6, 100, 99, 101, 101}
	last := ID{}
	var issued []ID
	for _, step := range steps {
		now := base.Add(time.Duration(step) * time.Millisecond)
		id := nextID(last, now)
		if !last.Less(id) {
			t.Fatalf("nextID(%v, +%dms) = %v, not after the previous ID", last, step, id)
		}
		// It follows the clock whenever the clock is ahead.
		if ms := uint64(now.UnixMilli()); ms > last.Ms && id != (ID{Ms: ms}) {
			t.Fatalf("nextID(%v, +%dms) = %v, want %v", last, step, id, ID{Ms: ms})
		}
		issued = append(issued, id)
		last = id
	}
	want := []string{
		"1700000000000-0", "1700000000000-1", "1700000000000-2", "1700000000001-0", "1700000000001-1",
		"1700000000005-0", "1700000000005-1", "1700000000005-2", "1700000000005-3", "1700000000005-4",
		"1700000000006-0", "1700000000006-1", "1700000000100-0", "1700000000100-1", "1700000000101-0",
		"1700000000101-1",
	}
	for i, id := range issued {
		if id.String() != want[i] {
			t.Errorf("ID %d = %v, want %s", i, id, want[i])
		}
	}
}
