// CLIENT's subcommand table, and its subcommands but tracking, pause, unblock.

package cachenode

import (
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/internal/resp"
)

// clientCommands is CLIENT and its subcommands; TRACKING and CACHING are
// in tracking_cmd.go, PAUSE and UNPAUSE in block_pause.go, UNBLOCK in
// block_wait.go.
var clientCommands = []*command{
	{
		name: "client", arity: -2,
		acl: "@slow",
		doc: docMeta{group: "connection", since: "2.4.0", complexity: "Depends on subcommand.",
			summary: "A container for client connection commands."},
		subs: []*command{
			{
				name: "client|id", arity: 2, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientID,
				doc: docMeta{group: "connection", since: "5.0.0", complexity: "O(1)",
					summary: "Returns the unique client ID of the connection."},
			},
			{
				name: "client|setname", arity: 3, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientSetName,
				doc: docMeta{group: "connection", since: "2.6.9", complexity: "O(1)",
					summary: "Sets the connection name."},
			},
			{
				name: "client|getname", arity: 2, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientGetName,
				doc: docMeta{group: "connection", since: "2.6.9", complexity: "O(1)",
					summary: "Returns the name of the connection."},
			},
			{
				name: "client|setinfo", arity: 4, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientSetInfo,
				doc: docMeta{group: "connection", since: "7.2.0", complexity: "O(1)",
					summary: "Sets information specific to the client or connection."},
			},
			{
				name: "client|list", arity: -2, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous @connection", run: cmdClientList,
				doc: docMeta{group: "connection", since: "2.4.0", complexity: "O(N) where N is the number of client connections",
					summary: "Lists open connections."},
			},
			{
				name: "client|info", arity: 2, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientInfo,
				doc: docMeta{group: "connection", since: "6.2.0", complexity: "O(1)",
					summary: "Returns information about the connection."},
			},
			{
				name: "client|kill", arity: -3, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous @connection", run: cmdClientKill,
				doc: docMeta{group: "connection", since: "2.4.0", complexity: "O(N) where N is the number of client connections",
					summary: "Terminates open connections."},
			},
			{
				name: "client|no-evict", arity: 3, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous @connection", run: cmdClientNoEvict,
				doc: docMeta{group: "connection", since: "7.0.0", complexity: "O(1)",
					summary: "Sets the client eviction mode of the connection."},
			},
			{
				name: "client|pause", arity: -3, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous @connection", run: cmdClientPause,
				doc: docMeta{group: "connection", since: "3.0.0", complexity: "O(1)",
					summary: "Suspends commands processing."},
			},
			{
				name: "client|unpause", arity: 2, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous @connection", run: cmdClientUnpause,
				doc: docMeta{group: "connection", since: "6.2.0", complexity: "O(N) Where N is the number of paused clients",
					summary: "Resumes processing commands from paused clients."},
			},
			{
				name: "client|tracking", arity: -3, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientTracking,
				doc: docMeta{group: "connection", since: "6.0.0", complexity: "O(1). Some options may introduce additional complexity.",
					summary: "Controls server-assisted client-side caching for the connection."},
			},
			{
				name: "client|caching", arity: 3, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientCaching,
				doc: docMeta{group: "connection", since: "6.0.0", complexity: "O(1)",
					summary: "Instructs the server whether to track the keys in the next request."},
			},
			{
				name: "client|getredir", arity: 2, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientGetRedir,
				doc: docMeta{group: "connection", since: "6.0.0", complexity: "O(1)",
					summary: "Returns the client ID to which the connection's tracking notifications are redirected."},
			},
			{
				name: "client|trackinginfo", arity: 2, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientTrackingInfo,
				doc: docMeta{group: "connection", since: "6.2.0", complexity: "O(1)",
					summary: "Returns information about server-assisted client-side caching for the connection."},
			},
			{
				name: "client|reply", arity: 3, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientReply,
				doc: docMeta{group: "connection", since: "3.2.0", complexity: "O(1)",
					summary: "Instructs the server whether to reply to commands."},
			},
			{
				name: "client|unblock", arity: -3, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous @connection", run: cmdClientUnblock,
				doc: docMeta{group: "connection", since: "5.0.0", complexity: "O(log N) where N is the number of client connections",
					summary: "Unblocks a client blocked by a blocking command from a different connection."},
			},
			{
				name: "client|no-touch", arity: 3, flags: flagNoScript | flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientNoTouch,
				doc: docMeta{group: "connection", since: "7.2.0", complexity: "O(1)",
					summary: "Controls whether commands sent by the client affect the LRU/LFU of accessed keys."},
			},
			{
				name: "client|help", arity: 2, flags: flagLoading | flagStale,
				acl: "@slow @connection", run: cmdClientHelp,
				doc: docMeta{group: "connection", since: "5.0.0", complexity: "O(1)",
					summary: "Returns helpful text about the different subcommands."},
			},
		},
	},
}

// validName checks a client name like Redis: printable ASCII without spaces.
func validName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func (c *conn) setName(name []byte) {
	s := string(name)
	c.info.name.Store(&s)
}

func cmdClientID(c *conn, _ [][]byte) { c.int(c.id) }

func cmdClientSetName(c *conn, args [][]byte) {
	if !validName(args[2]) {
		c.err("ERR Client names cannot contain spaces, newlines or special characters.")
		return
	}
	c.setName(args[2])
	c.ok()
}

func cmdClientGetName(c *conn, _ [][]byte) {
	if p := c.info.name.Load(); p != nil && *p != "" {
		c.bulkStr(*p)
		return
	}
	c.null()
}

func cmdClientSetInfo(c *conn, args [][]byte) {
	var dst = &c.info.libName
	switch {
	case eq(args[2], "lib-name"):
	case eq(args[2], "lib-ver"):
		dst = &c.info.libVer
	default:
		c.err("ERR Unrecognized option '" + trunc(args[2], len(args[2])) + "'")
		return
	}
	if !validName(args[3]) {
		c.err("ERR " + strings.ToLower(string(args[2])) + " cannot contain spaces, newlines or special characters.")
		return
	}
	v := string(args[3])
	dst.Store(&v)
	c.ok()
}

func loadStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// clientLine formats one CLIENT LIST / CLIENT INFO line for cl.
func (c *conn) clientLine(b []byte, cl *conn, now time.Time) []byte {
	cmdName := "NULL"
	if cl == c {
		cmdName = "client|" + "list"
	}
	if lc := cl.info.lastCmd.Load(); lc != nil && cl != c {
		cmdName = lc.name
	}
	idle := now.Sub(time.Unix(0, cl.info.lastActive.Load())) / time.Second
	if cl == c {
		idle = 0
	}
	proto := int(cl.info.protoSeen.Load())
	if cl == c {
		proto = c.proto
	}
	b = append(b, "id="...)
	b = strconv.AppendInt(b, cl.id, 10)
	b = append(b, " addr="...)
	b = append(b, cl.info.addr...)
	b = append(b, " laddr="...)
	b = append(b, cl.info.laddr...)
	b = append(b, " fd=-1 name="...)
	b = append(b, loadStr(cl.info.name.Load())...)
	b = append(b, " age="...)
	b = strconv.AppendInt(b, int64(now.Sub(cl.info.created)/time.Second), 10)
	b = append(b, " idle="...)
	b = strconv.AppendInt(b, int64(idle), 10)
	b = append(b, " flags="...)
	redir := int64(-1)
	nflags := len(b)
	if cl.mon.on.Load() {
		b = append(b, 'O') // first, as in Redis's flags
	}
	if cl.wait.state.Load() == blockWaiting {
		b = append(b, 'b')
	}
	c.s.trk.mu.Lock()
	if tr := cl.trk; tr != nil {
		redir = tr.redirect
		b = append(b, 't')
		if tr.brokenRedir {
			b = append(b, 'R')
		}
		if tr.bcast {
			b = append(b, 'B')
		}
	}
	c.s.trk.mu.Unlock()
	if cl.info.noEvict.Load() {
		b = append(b, 'e')
	}
	if cl.info.noTouch.Load() {
		b = append(b, 'T')
	}

	if len(b) == nflags {
		b = append(b, 'N')
	}
	b = append(b, " db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd="...)
	b = append(b, cmdName...)
	b = append(b, " user=default redir="...)
	b = strconv.AppendInt(b, redir, 10)
	b = append(b, " resp="...)
	b = strconv.AppendInt(b, int64(proto), 10)
	b = append(b, " lib-name="...)
	b = append(b, loadStr(cl.info.libName.Load())...)
	b = append(b, " lib-ver="...)
	b = append(b, loadStr(cl.info.libVer.Load())...)
	return append(b, '\n')
}

func cmdClientList(c *conn, args [][]byte) {
	var ids map[int64]bool
	typeNone := false
	switch {
	case len(args) == 2:
	case len(args) == 4 && eq(args[2], "type"):
		switch {
		case eq(args[3], "normal"):
		case eq(args[3], "master"), eq(args[3], "replica"), eq(args[3], "slave"), eq(args[3], "pubsub"):
			typeNone = true
		default:
			c.err("ERR Unknown client type '" + string(args[3]) + "'")
			return
		}
	case len(args) > 3 && eq(args[2], "id"):
		ids = make(map[int64]bool)
		for _, a := range args[3:] {
			id, ok := resp.ParseInt(a)
			if !ok || id < 1 {
				c.err("ERR Invalid client ID")
				return
			}
			ids[id] = true
		}
	default:
		c.err(errSyntax)
		return
	}
	c.s.net.mu.Lock()
	conns := make([]*conn, 0, len(c.s.net.conns))
	for cl := range c.s.net.conns {
		if !typeNone && (ids == nil || ids[cl.id]) {
			conns = append(conns, cl)
		}
	}
	c.s.net.mu.Unlock()
	sort.Slice(conns, func(i, j int) bool { return conns[i].id < conns[j].id })
	now := time.Now()
	var b []byte
	for _, cl := range conns {
		b = c.clientLine(b, cl, now)
	}
	c.verbatim(b)
}

func cmdClientInfo(c *conn, _ [][]byte) {
	b := c.clientLine(nil, c, time.Now())
	b = []byte(strings.Replace(string(b), "cmd=client|list", "cmd=client|info", 1))
	c.verbatim(b)
}

func cmdClientHelp(c *conn, _ [][]byte) {
	c.helpReply("CLIENT",
		"CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
		"GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
		"GETNAME", "    Return the name of the current connection.",
		"ID", "    Return the ID of the current connection.",
		"INFO", "    Return information about the current client connection.",
		"KILL <ip:port>", "    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]",
		"    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Kill connections by type.",
		"    * USER <username>",
		"      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)",
		"      Skip killing current connection (default: yes).",
		"    * ID <client-id>",
		"      Kill connections by client id.",
		"LIST [TYPE <normal|master|replica|pubsub>]", "    Return information about client connections.",
		"PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
		"UNPAUSE", "    Stop the current client pause, resuming traffic.",
		"NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
		"NO-TOUCH (ON|OFF)", "    Will not touch LRU/LFU stats when this mode is on.",
		"REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
		"SETINFO <option> <value>", "    Set client meta attr. Options are LIB-NAME and LIB-VER.",
		"SETNAME <name>", "    Assign the name <name> to the current connection.",
		"UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
		"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
		"         [OPTIN] [OPTOUT] [NOLOOP]",
		"    Control server assisted client side caching.",
		"TRACKINGINFO", "    Report tracking status for the current connection.",
	)
}

// clientKillFilter is the parsed filter of CLIENT KILL's new form.
type clientKillFilter struct {
	id          int64
	addr, laddr []byte
	noneType    bool // TYPE master/replica/pubsub: no cachenode client matches
	skipMe      bool
}

func (f *clientKillFilter) match(c, cl *conn) bool {
	switch {
	case f.noneType:
		return false
	case f.id != 0 && cl.id != f.id:
		return false
	case f.addr != nil && cl.info.addr != string(f.addr):
		return false
	case f.laddr != nil && cl.info.laddr != string(f.laddr):
		return false
	case f.skipMe && cl == c:
		return false
	}
	return true
}

// cmdClientKill: CLIENT KILL ip:port (replies OK or "No such client") or
// CLIENT KILL <filter> <value> ... (replies the number of clients killed),
// filters ID, TYPE, ADDR, LADDR, USER (only "default" exists) and SKIPME.
// A killed connection is closed at once; one that kills itself gets its
// reply first, as in Redis.
func cmdClientKill(c *conn, args [][]byte) {
	f := clientKillFilter{skipMe: true}
	oldForm := len(args) == 3
	if oldForm {
		f.addr, f.skipMe = args[2], false
	} else {
		for i := 2; i < len(args); i += 2 {
			if i+1 >= len(args) {
				c.err(errSyntax)
				return
			}
			opt, v := args[i], args[i+1]
			switch {
			case eq(opt, "id"):
				id, ok := resp.ParseInt(v)
				if !ok || id < 1 {
					c.err("ERR client-id should be greater than 0")
					return
				}
				f.id = id
			case eq(opt, "type"):
				switch {
				case eq(v, "normal"):
				case eq(v, "master"), eq(v, "replica"), eq(v, "slave"), eq(v, "pubsub"):
					f.noneType = true
				default:
					c.err("ERR Unknown client type '" + trunc(v, len(v)) + "'")
					return
				}
			case eq(opt, "addr"):
				f.addr = v
			case eq(opt, "laddr"):
				f.laddr = v
			case eq(opt, "user"):
				if string(v) != "default" {
					c.err("ERR No such user '" + trunc(v, len(v)) + "'")
					return
				}
			case eq(opt, "skipme"):
				switch {
				case eq(v, "yes"):
					f.skipMe = true
				case eq(v, "no"):
					f.skipMe = false
				default:
					c.err(errSyntax)
					return
				}
			default:
				c.err(errSyntax)
				return
			}
		}
	}
	killed := 0
	c.s.net.mu.Lock()
	for cl := range c.s.net.conns {
		if !f.match(c, cl) {
			continue
		}
		killed++
		if cl == c {
			c.quit = true // close after this reply
			continue
		}
		// Gone from the client list at once, as in Redis (its goroutine,
		// which ends on the closed socket, would remove it a little later).
		delete(c.s.net.conns, cl)
		cl.kill()
	}
	c.s.net.mu.Unlock()
	if !oldForm {
		c.int(int64(killed))
	} else if killed == 0 {
		c.err("ERR No such client")
	} else {
		c.ok()
	}
}

// cmdClientNoEvict is accepted and shown in CLIENT LIST (flag e): cachenode
// never evicts clients for memory (each costs a bounded ~13 KB idle), so
// every client is already protected.
func cmdClientNoEvict(c *conn, args [][]byte) { c.setOnOff(&c.info.noEvict, args[2]) }

// cmdClientReply is CLIENT REPLY ON|OFF|SKIP: OFF drops the replies to every
// command until ON, SKIP drops the reply to the next command; neither has a
// reply of its own. Invalidation messages (RESP3 pushes) still go out.
// conn.serve applies the setting (endReply).
func cmdClientReply(c *conn, args [][]byte) {
	switch {
	case eq(args[2], "on"):
		c.reply.off, c.reply.skip, c.reply.skipNext = false, false, false
		c.mon.replyOff.Store(false)
		c.ok()
	case eq(args[2], "off"):
		c.reply.off = true
		c.mon.replyOff.Store(true)
	case eq(args[2], "skip"):
		if !c.reply.off {
			c.reply.skipNext = true
		}
	default:
		c.err(errSyntax)
	}
}

// cmdClientNoTouch: with NO-TOUCH on, GET, MGET and GETRANGE do not update
// the keys' LRU clock (TOUCH still does), so a monitoring client does not
// keep keys from being evicted.
func cmdClientNoTouch(c *conn, args [][]byte) { c.setOnOff(&c.info.noTouch, args[2]) }

// setOnOff sets flag from the ON|OFF argument of CLIENT NO-EVICT and
// NO-TOUCH and replies OK, or replies a syntax error.
func (c *conn) setOnOff(flag *atomic.Bool, arg []byte) {
	switch {
	case eq(arg, "on"):
		flag.Store(true)
	case eq(arg, "off"):
		flag.Store(false)
	default:
		c.err(errSyntax)
		return
	}
	c.ok()
}
