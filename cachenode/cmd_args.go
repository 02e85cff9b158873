// Argument helpers shared by the command groups.

package cachenode

import "time"

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
