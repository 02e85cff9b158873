// The reply side of a connection: reply helpers, shared error replies, flush.

package cachenode

import (
	"time"

	"github.com/cachetier/cachetier/internal/resp"
)

// Error replies shared by the command groups, as Redis words them.
const (
	errSyntax   = "ERR syntax error"
	errNotInt   = "ERR value is not an integer or out of range"
	errNotFloat = "ERR value is not a valid float"
	errNoKey    = "ERR no such key"
	errOverflow = "ERR increment or decrement would overflow"
	errNoAuth   = "NOAUTH Authentication required."
	// errDebugDisabled is Redis 7's answer to DEBUG with its default
	// enable-debug-command no; cachenode has no setting to enable it.
	errDebugDisabled = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
	errWrongPass     = "WRONGPASS invalid username-password pair or user is disabled."
	errOOM           = "OOM command not allowed when used memory > 'maxmemory'."
	errStringLimit   = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
)

// Reply helpers: each appends one value to the pending replies, in the
// connection's protocol. err also counts the error for INFO errorstats.

func (c *conn) ok()               { c.out = append(c.out, "+OK\r\n"...) }
func (c *conn) err(msg string)    { c.out = resp.AppendError(c.out, msg); c.s.stats.errors.count(msg) }
func (c *conn) int(n int64)       { c.out = resp.AppendInt(c.out, n) }
func (c *conn) bulk(b []byte)     { c.out = resp.AppendBulk(c.out, b) }
func (c *conn) bulkStr(s string)  { c.out = resp.AppendBulkString(c.out, s) }
func (c *conn) simple(s string)   { c.out = resp.AppendSimple(c.out, s) }
func (c *conn) null()             { c.out = resp.AppendNull(c.out, c.proto) }
func (c *conn) array(n int)       { c.out = resp.AppendArrayLen(c.out, n) }
func (c *conn) mapLen(n int)      { c.out = resp.AppendMapLen(c.out, n, c.proto) }
func (c *conn) setLen(n int)      { c.out = resp.AppendSetLen(c.out, n, c.proto) }
func (c *conn) verbatim(s []byte) { c.out = resp.AppendVerbatim(c.out, "txt", s, c.proto) }
func (c *conn) bool01(b bool) {
	if b {
		c.int(1)
	} else {
		c.int(0)
	}
}

// helpReply writes the reply of a container's HELP subcommand: its usage
// line, lines (subcommand, description, ...), then HELP's own.
func (c *conn) helpReply(name string, lines ...string) {
	c.array(len(lines) + 3)
	c.simple(name + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.simple(l)
	}
	c.simple("HELP")
	c.simple("    Print this help.")
}

const (
	// flushThreshold: replies are written once this much output is pending,
	// even in the middle of a pipelined batch.
	flushThreshold = 64 * 1024
	// keepOutCap: a reply buffer that grew beyond this is released after the
	// flush so idle connections do not hold large buffers.
	keepOutCap = 128 << 10
)

// flush writes the pending replies. It reports false when the connection
// failed and must be closed.
func (c *conn) flush() bool {
	c.takePushes()
	if len(c.out) == 0 {
		return true
	}
	if n := int64(len(c.out)); n > c.s.stats.maxOut.Load() {
		c.s.stats.maxOut.Store(n) // racy max: a statistic, not a limit
	}
	timeout := time.Duration(c.s.settings.timeout.Load())
	if timeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
		c.wdl = true
	} else if c.wdl {
		_ = c.nc.SetWriteDeadline(time.Time{})
		c.wdl = false
	}
	var n int
	var err error
	if c.io != nil {
		n, err = c.io.write(c.out)
	} else {
		n, err = c.nc.Write(c.out)
	}
	c.st.netOut.Add(uint64(n))
	if cap(c.out) > keepOutCap {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	c.outMark = 0
	return err == nil
}

// endReply ends a command's reply: it drops the reply when CLIENT REPLY
// says so, and moves CLIENT REPLY SKIP on to the next command.
func (c *conn) endReply() {
	if c.reply.off || c.reply.skip {
		c.out = c.out[:c.outMark]
	}
	c.reply.skip, c.reply.skipNext = c.reply.skipNext, false
}
