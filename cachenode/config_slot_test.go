package cachenode

import (
	"errors"
	"strings"
	"testing"

	"github.com/cachetier/cachetier/internal/redistest"
)

func TestSlotFromHostname(t *testing.T) {
	for _, tc := range []struct {
		host string
		want int // -1: ErrNoOrdinal
	}{
		{"cache-0", 0},
		{"cache-3", 3},
		{"cache-12", 12},
		{"my-cache-7", 7},
		{"cache-3.cache.default.svc.cluster.local", 3},
		{"cache-65535", 65535},
		{"cache-65536", -1},
		{"cache-99999999999999999999", -1},
		{"cache", -1},
		{"cache-", -1},
		{"-3", -1},
		{"cache-03", -1},
		{"cache-+3", -1},
		{"cache-3a", -1},
		{"node7", -1},
		{"cache.ns-3", -1}, // the ordinal is in the first label only
		{"", -1},
	} {
		got, err := SlotFromHostname(tc.host)
		if tc.want < 0 {
			if !errors.Is(err, ErrNoOrdinal) || !strings.Contains(err.Error(), tc.host) {
				t.Errorf("SlotFromHostname(%q) = %d, %v; want ErrNoOrdinal naming the hostname", tc.host, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("SlotFromHostname(%q) = %d, %v; want %d", tc.host, got, err, tc.want)
		}
	}
}

func TestSlotConfigRange(t *testing.T) {
	for _, slot := range []int{-1, 1 << 16} {
		if s, err := New(Config{Slot: slot, HasSlot: true}); err == nil || !strings.Contains(err.Error(), "slot") {
			t.Errorf("New(Slot %d): %v, want an out-of-range error", slot, err)
			if s != nil {
				s.Close()
			}
		}
	}
	// Without HasSlot, Slot is ignored.
	s, err := New(Config{Slot: -1, Logger: discardLogger()})
	if err != nil {
		t.Fatalf("New(Slot -1 without HasSlot): %v", err)
	}
	s.Close()
}

// TestSlotReported checks the two places a node reports its slot, and what a
// node without one and a stock redis-server answer there.
func TestSlotReported(t *testing.T) {
	withSlot := startServer(t, Config{Slot: 3, HasSlot: true})
	c := dialRaw(t, withSlot.Addr().String())
	if got := c.do("CONFIG", "GET", "slot"); got != "*2\r\n$4\r\nslot\r\n$1\r\n3\r\n" {
		t.Errorf("CONFIG GET slot = %q, want slot 3", got)
	}
	if got := c.do("INFO", "server"); !strings.Contains(got, "\r\nslot:3\r\n") {
		t.Errorf("INFO server lacks slot:3:\n%s", got)
	}
	if got := c.do("CONFIG", "SET", "slot", "4"); !strings.Contains(got, "immutable") {
		t.Errorf("CONFIG SET slot = %q, want the immutable config error", got)
	}

	none := startServer(t, Config{Slot: 3}) // HasSlot false: no slot
	c = dialRaw(t, none.Addr().String())
	if got := c.do("CONFIG", "GET", "slot"); got != "*2\r\n$4\r\nslot\r\n$0\r\n\r\n" {
		t.Errorf("CONFIG GET slot without a slot = %q, want an empty value", got)
	}
	if got := c.do("INFO", "server"); strings.Contains(got, "slot:") {
		t.Errorf("INFO server without a slot has a slot field:\n%s", got)
	}

	// Stock redis-server has no such parameter: an empty array, and no
	// slot field in INFO. Both read as "no slot".
	rs := redistest.Start(t)
	c = dialRaw(t, rs.Addr)
	if got := c.do("CONFIG", "GET", "slot"); got != "*0\r\n" {
		t.Errorf("redis CONFIG GET slot = %q, want an empty array", got)
	}
	if got := c.do("INFO", "server"); strings.Contains(got, "\r\nslot:") {
		t.Errorf("redis INFO server has a slot field:\n%s", got)
	}
}
