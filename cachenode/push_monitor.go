// MONITOR: streaming every command run to the monitoring connections.

package cachenode

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MONITOR streams every command the server runs to the connections that
// asked for it, in Redis's format:
//
//	+1700000000.123456 [0 127.0.0.1:52134] "set" "k" "v"
//
// As in Redis 7, a command is shown after it ran, whether it succeeded or
// not; commands rejected before running (unknown, wrong arity, NOAUTH) and
// administrative ones (CONFIG, CLIENT LIST, MONITOR...) are not shown; a
// transaction's commands are shown when EXEC runs them, before the EXEC;
// AUTH's and HELLO AUTH's credentials read "(redacted)". A monitoring
// connection is treated as Redis treats it (a replica): commands that read
// or write keys answer "Replica can't interact with the keyspace", a second
// MONITOR gets no reply, RESET ends monitoring. A monitor that does not read
// its stream is closed past pushBufLimit bytes, like a tracking client.

// monitors is the server's list of monitoring connections.
type monitors struct {
	n    atomic.Int32 // len(list): the per-command check is this load alone when 0
	mu   sync.Mutex   // protects list and orders the lines all monitors see
	list []*conn
}

// monitorState is a connection's MONITOR state. on and replyOff are read
// by the connections that feed monitors; line and redact belong to the
// connection's goroutine.
type monitorState struct {
	on       atomic.Bool // MONITOR is on (see monitors)
	replyOff atomic.Bool // CLIENT REPLY OFF, for the connections feeding this monitor
	line     []byte      // the MONITOR line of this connection's command
	redact   uint64      // arguments of the running command MONITOR shows as "(redacted)" (AUTH)
}

// errMonitorKeyspace answers a monitoring connection's read or write.
const errMonitorKeyspace = "ERR Replica can't interact with the keyspace"

func cmdMonitor(c *conn, _ [][]byte) {
	if c.tx.inExec { // Redis refuses MONITOR where it expects one reply per command
		c.err("ERR MONITOR isn't allowed for DENY BLOCKING client")
		return
	}
	if c.mon.on.Load() {
		return // as Redis: already monitoring, no reply
	}
	c.ok()
	c.s.mon.add(c)
}

func (m *monitors) add(c *conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.mon.on.Store(true)
	m.list = append(m.list, c)
	m.n.Store(int32(len(m.list)))
}

// remove ends c's monitoring, if on (RESET, connection closed).
func (m *monitors) remove(c *conn) {
	if !c.mon.on.Load() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c.mon.on.Store(false)
	if i := slices.Index(m.list, c); i >= 0 {
		m.list = slices.Delete(m.list, i, i+1)
	}
	m.n.Store(int32(len(m.list)))
}

// feedMonitors shows the command c just ran (args) to every monitor. The
// caller checked that there are monitors and the command is not an
// administrative one.
func (c *conn) feedMonitors(args [][]byte) {
	m := &c.s.mon
	c.mon.line = appendMonitorLine(c.mon.line[:0], time.Now(), c.info.addr, args, c.mon.redact)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, to := range m.list {
		if to.mon.replyOff.Load() || (to == c && (c.reply.skip || c.quit)) {
			continue // CLIENT REPLY OFF (or SKIP, or QUIT, for its own command) drops the line too
		}
		to.push(c.mon.line, c, "MONITOR output")
	}
	if cap(c.mon.line) > keepOutCap {
		c.mon.line = nil
	}
}

// appendMonitorLine formats one MONITOR line: a simple string holding the
// time, the database and client, and the arguments quoted as Redis's
// sdscatrepr quotes them. Arguments whose bit is set in redact show as
// "(redacted)".
func appendMonitorLine(b []byte, now time.Time, client string, args [][]byte, redact uint64) []byte {
	b = append(b, '+')
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	var us [6]byte // microseconds, zero-padded
	for i, n := len(us)-1, now.Nanosecond()/1000; i >= 0; i, n = i-1, n/10 {
		us[i] = '0' + byte(n%10)
	}
	b = append(b, us[:]...)
	b = append(b, " [0 "...)
	b = append(b, client...)
	b = append(b, "] "...)
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		if i < 64 && redact&(1<<i) != 0 {
			b = append(b, `"(redacted)"`...)
			continue
		}
		b = appendRepr(b, a)
	}
	return append(b, "\r\n"...)
}

// appendRepr quotes s like Redis's sdscatrepr: printable ASCII as is,
// backslash and double quote escaped, \n \r \t \a \b by name, other bytes
// as \xhh.
func appendRepr(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, ch := range s {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= ' ' && ch <= '~' {
				b = append(b, ch)
			} else {
				b = append(b, '\\', 'x', hex[ch>>4], hex[ch&15])
			}
		}
	}
	return append(b, '"')
}
