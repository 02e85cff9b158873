// Connection commands: PING, ECHO, QUIT, AUTH, HELLO, SELECT.

package cachenode

import (
	"crypto/subtle"

	"github.com/cachetier/cachetier/internal/resp"
)

// connectionCommands are the connection commands other than CLIENT and RESET.
var connectionCommands = []*command{
	{
		name: "ping", arity: -1, flags: flagFast | flagStale,
		acl: "@fast @connection", run: cmdPing,
		doc: docMeta{group: "connection", since: "1.0.0", complexity: "O(1)",
			summary: "Returns the server's liveliness response."},
	},
	{
		name: "echo", arity: 2, flags: flagFast | flagLoading | flagStale,
		acl: "@fast @connection", run: cmdEcho,
		doc: docMeta{group: "connection", since: "1.0.0", complexity: "O(1)",
			summary: "Returns the given string."},
	},
	{
		name: "quit", arity: -1, flags: flagNoAuth | flagFast | flagNoScript | flagLoading | flagStale | flagAllowBusy, txControl: true,
		acl: "@fast @connection", run: cmdQuit,
		doc: docMeta{group: "connection", since: "1.0.0", complexity: "O(1)",
			summary: "Closes the connection."},
	},
	{
		name: "auth", arity: -2, flags: flagNoAuth | flagFast | flagNoScript | flagLoading | flagStale | flagAllowBusy,
		acl: "@fast @connection", run: cmdAuth,
		doc: docMeta{group: "connection", since: "1.0.0", complexity: "O(N) where N is the number of passwords defined for the user",
			summary: "Authenticates the connection."},
	},
	{
		name: "hello", arity: -1, flags: flagNoAuth | flagFast | flagNoScript | flagLoading | flagStale | flagAllowBusy,
		acl: "@fast @connection", run: cmdHello,
		doc: docMeta{group: "connection", since: "6.0.0", complexity: "O(1)",
			summary: "Handshakes with the Redis server."},
	},
	{
		name: "select", arity: 2, flags: flagFast | flagLoading | flagStale,
		acl: "@fast @connection", run: cmdSelect,
		doc: docMeta{group: "connection", since: "1.0.0", complexity: "O(1)",
			summary: "Changes the selected database."},
	},
}

func cmdPing(c *conn, args [][]byte) {
	switch len(args) {
	case 1:
		c.out = append(c.out, "+PONG\r\n"...)
	case 2:
		c.bulk(args[1])
	default:
		c.err("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(c *conn, args [][]byte) { c.bulk(args[1]) }

func cmdQuit(c *conn, _ [][]byte) {
	c.ok()
	c.quit = true
}

// checkPassword authenticates user/pass against the only user, "default".
func (c *conn) checkPassword(user, pass []byte) bool {
	if string(user) != "default" {
		return false
	}
	want := *c.s.settings.requirePass.Load()
	if want == "" {
		return true // the default user has no password: any password works
	}
	return subtle.ConstantTimeCompare(pass, []byte(want)) == 1
}

func (c *conn) setAuthed() {
	c.info.authed = true
	c.rd.Unauthenticated = false
}

func cmdAuth(c *conn, args [][]byte) {
	if len(args) > 3 {
		c.err(errSyntax)
		return
	}
	c.mon.redact = 1<<1 | 1<<(len(args)-1) // MONITOR shows neither user nor password, as Redis
	user, pass := []byte("default"), args[1]
	if len(args) == 2 {
		if *c.s.settings.requirePass.Load() == "" {
			c.err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
	} else {
		user, pass = args[1], args[2]
	}
	if !c.checkPassword(user, pass) {
		c.err(errWrongPass)
		return
	}
	c.setAuthed()
	c.ok()
}

func cmdHello(c *conn, args [][]byte) {
	ver := int64(0)
	next := 1
	if len(args) >= 2 {
		v, ok := resp.ParseInt(args[1])
		if !ok {
			c.err("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.err("NOPROTO unsupported protocol version")
			return
		}
		ver = v
		next = 2
	}
	var user, pass, name []byte
	for j := next; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case eq(args[j], "auth") && more >= 2:
			user, pass = args[j+1], args[j+2]
			if j+2 < 64 {
				c.mon.redact |= 1<<(j+1) | 1<<(j+2) // hidden from MONITOR, as Redis
			}
			j += 2
		case eq(args[j], "setname") && more >= 1:
			name = args[j+1]
			if !validName(name) {
				c.err("ERR Client names cannot contain spaces, newlines or special characters.")
				return
			}
			j++
		default:
			c.err("ERR Syntax error in HELLO option '" + trunc(args[j], len(args[j])) + "'")
			return
		}
	}
	if user != nil {
		if !c.checkPassword(user, pass) {
			c.err(errWrongPass)
			return
		}
		c.setAuthed()
	}
	if c.authRequired() {
		c.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if name != nil {
		c.setName(name)
	}
	if ver != 0 {
		c.proto = int(ver)
		c.info.protoSeen.Store(int32(ver))
	}
	c.mapLen(7)
	c.bulkStr("server")
	c.bulkStr("redis")
	c.bulkStr("version")
	c.bulkStr(RedisVersion)
	c.bulkStr("proto")
	c.int(int64(c.proto))
	c.bulkStr("id")
	c.int(c.id)
	c.bulkStr("mode")
	c.bulkStr("standalone")
	c.bulkStr("role")
	c.bulkStr("master")
	c.bulkStr("modules")
	c.array(0)
}

// RedisVersion is the Redis version cachenode reports in HELLO and INFO: the
// Redis release whose commands and replies it follows.
const RedisVersion = "7.2.4"

func cmdSelect(c *conn, args [][]byte) {
	n, ok := resp.ParseInt(args[1])
	if !ok {
		c.err(errNotInt)
		return
	}
	if n < -1<<31 || n > 1<<31-1 {
		c.err("ERR value is out of range, value must between -2147483648 and 2147483647")
		return
	}
	if n != 0 {
		c.err("ERR DB index is out of range")
		return
	}
	c.ok()
}
