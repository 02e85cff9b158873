// Argument helpers shared by the command groups.

package cachenode

import (
	"math"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
)

// errSubcommandArgs is Redis's reply to a subcommand of container with
// arguments its arity allows but its syntax does not (CLIENT PAUSE, CLIENT
// UNBLOCK, SLOWLOG GET).
func errSubcommandArgs(sub []byte, container string) string {
	return "ERR unknown subcommand or wrong number of arguments for '" + trunc(sub, 128) + "'. Try " + container + " HELP."
}

// eq reports whether b equals the lowercase ASCII word s, ignoring case.
func eq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != s[i] {
			return false
		}
	}
	return true
}

// trunc returns b as a string of at most n bytes, cut at a NUL byte like
// C's %.*s.
func trunc(b []byte, n int) string {
	if n < 0 {
		n = 0
	}
	if len(b) > n {
		b = b[:n]
	}
	for i, ch := range b {
		if ch == 0 {
			b = b[:i]
			break
		}
	}
	return string(b)
}

// nowMs is the current time in Unix milliseconds, the unit of the store's
// expiry times.
func nowMs() int64 { return time.Now().UnixMilli() }

// keepScratch keeps a grown scratch buffer for reuse, unless it got large.
func (c *conn) keepScratch(b []byte) {
	if cap(b) <= keepOutCap {
		c.scratch = b[:0]
	}
}

// checkStringLength answers Redis's error and returns false when a string
// of size+add bytes would exceed proto-max-bulk-len (or the sum overflows),
// as Redis's checkStringLength.
func (c *conn) checkStringLength(size, add int64) bool {
	if !c.fitsString(size, add) {
		c.err(errStringLimit)
		return false
	}
	return true
}

// fitsString reports whether a string of size+add bytes fits in
// proto-max-bulk-len (checkStringLength without the reply).
func (c *conn) fitsString(size, add int64) bool {
	total := int64(uint64(size) + uint64(add)) // wraps like Redis's, caught below
	return total <= c.s.settings.protoMaxBulk.Load() && total >= size && total >= add
}

// roomFor makes room under maxmemory for grow more bytes that a command is
// about to allocate for a value, evicting as the policy allows; when it
// cannot, it answers Redis's OOM error and returns false. Redis checks
// memory only before a command runs; a value that grows by up to
// proto-max-bulk-len at once is checked here as well, before it is
// allocated.
func (c *conn) roomFor(key []byte, grow int64) bool {
	if grow <= 0 || c.s.settings.maxMemory.Load() <= 0 {
		return true
	}
	// The entry's header and key, and the page rounding of a large entry.
	grow += int64(len(key)) + 32 + 4096
	if c.s.store.EnsureRoom(grow) != nil {
		c.err(errOOM)
		return false
	}
	return true
}

// valueLen returns the length of key's value (0 when it does not exist),
// without counting a hit or a miss.
func (c *conn) valueLen(key []byte) int64 {
	var n int
	c.s.store.Update(key, func(cur []byte, _ int64, _ bool) ([]byte, int64, store.Op) {
		n = len(cur)
		return nil, 0, store.Keep
	})
	return int64(n)
}

// parseCursor parses a SCAN cursor as Redis does with strtoul: an optional
// sign and decimal digits, none at all meaning 0, a negative number
// wrapping around; no leading blank, nothing after the digits, no overflow.
func parseCursor(b []byte) (uint64, bool) {
	if len(b) > 0 && isBlank(b[0]) {
		return 0, false
	}
	neg := false
	digits := b
	if len(digits) > 0 && (digits[0] == '+' || digits[0] == '-') {
		neg = digits[0] == '-'
		digits = digits[1:]
		if len(digits) == 0 {
			return 0, false // strtoul parsed nothing: the sign is left over
		}
	}
	var n uint64
	for _, ch := range digits {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		d := uint64(ch - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false // ERANGE
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, true
}
