package cachenode

import (
	"crypto/subtle"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/cachetier/cachetier/internal/resp"
)

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
	want := *c.s.requirePass.Load()
	if want == "" {
		return true // the default user has no password: any password works
	}
	return subtle.ConstantTimeCompare(pass, []byte(want)) == 1
}

func (c *conn) setAuthed() {
	c.authed = true
	c.rd.Unauthenticated = false
}

func cmdAuth(c *conn, args [][]byte) {
	if len(args) > 3 {
		c.err(errSyntax)
		return
	}
	c.redact = 1<<1 | 1<<(len(args)-1) // MONITOR shows neither user nor password, as Redis
	user, pass := []byte("default"), args[1]
	if len(args) == 2 {
		if *c.s.requirePass.Load() == "" {
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

// validName checks a client name like Redis: printable ASCII without spaces.
func validName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
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
				c.redact |= 1<<(j+1) | 1<<(j+2) // hidden from MONITOR, as Redis
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
		c.protoSeen.Store(int32(ver))
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
	if !ok || n < -1<<31 || n > 1<<31-1 {
		c.err(errNotInt)
		return
	}
	if n != 0 {
		c.err("ERR DB index is out of range")
		return
	}
	c.ok()
}

func (c *conn) setName(name []byte) {
	s := string(name)
	c.name.Store(&s)
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
	if p := c.name.Load(); p != nil && *p != "" {
		c.bulkStr(*p)
		return
	}
	c.null()
}

func cmdClientSetInfo(c *conn, args [][]byte) {
	var dst = &c.libName
	switch {
	case eq(args[2], "lib-name"):
	case eq(args[2], "lib-ver"):
		dst = &c.libVer
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
	if lc := cl.lastCmd.Load(); lc != nil && cl != c {
		cmdName = lc.name
	}
	idle := now.Sub(time.Unix(0, cl.lastActive.Load())) / time.Second
	if cl == c {
		idle = 0
	}
	proto := int(cl.protoSeen.Load())
	if cl == c {
		proto = c.proto
	}
	b = append(b, "id="...)
	b = strconv.AppendInt(b, cl.id, 10)
	b = append(b, " addr="...)
	b = append(b, cl.addr...)
	b = append(b, " laddr="...)
	b = append(b, cl.laddr...)
	b = append(b, " fd=-1 name="...)
	b = append(b, loadStr(cl.name.Load())...)
	b = append(b, " age="...)
	b = strconv.AppendInt(b, int64(now.Sub(cl.created)/time.Second), 10)
	b = append(b, " idle="...)
	b = strconv.AppendInt(b, int64(idle), 10)
	b = append(b, " flags="...)
	redir := int64(-1)
	nflags := len(b)
	if cl.monitoring.Load() {
		b = append(b, 'O') // first, as in Redis's flags
	}
	if cl.blockState.Load() == blockWaiting {
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
	if cl.noEvict.Load() {
		b = append(b, 'e')
	}
	if cl.noTouch.Load() {
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
	b = append(b, loadStr(cl.libName.Load())...)
	b = append(b, " lib-ver="...)
	b = append(b, loadStr(cl.libVer.Load())...)
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
	c.s.mu.Lock()
	conns := make([]*conn, 0, len(c.s.conns))
	for cl := range c.s.conns {
		if !typeNone && (ids == nil || ids[cl.id]) {
			conns = append(conns, cl)
		}
	}
	c.s.mu.Unlock()
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

func (c *conn) helpReply(name string, lines ...string) {
	c.array(len(lines) + 3)
	c.simple(name + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.simple(l)
	}
	c.simple("HELP")
	c.simple("    Print this help.")
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

func cmdTime(c *conn, _ [][]byte) {
	now := time.Now()
	c.array(2)
	c.out = resp.AppendBulkInt(c.out, now.Unix())
	c.out = resp.AppendBulkInt(c.out, int64(now.Nanosecond()/1000))
}

func cmdDBSize(c *conn, _ [][]byte) { c.int(int64(c.s.store.Len())) }

func cmdFlush(c *conn, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !eq(args[1], "async") && !eq(args[1], "sync")) {
		c.err(errSyntax)
		return
	}
	c.s.watch.beforeFlush(c.s)
	c.s.store.Flush()
	c.s.trk.invalidateAll(c)
	c.ok()
}

// COMMAND and its subcommands.

func appendFlags(c *conn, f cmdFlag) {
	n := 0
	for _, fl := range flagNames {
		if f&fl.f != 0 {
			n++
		}
	}
	c.setLen(n)
	for _, fl := range flagNames {
		if f&fl.f != 0 {
			c.simple(fl.name)
		}
	}
}

func (c *conn) commandInfo(cmd *command) {
	if rec, ok := recordedInfo()[cmd.name]; ok {
		c.array(10)
		for _, e := range rec.elems[:9] {
			c.out = appendValue(c.out, e, c.proto)
		}
		c.subcommandsInfo(cmd)
		return
	}
	c.array(10)
	c.bulkStr(cmd.name)
	c.int(int64(cmd.arity))
	appendFlags(c, cmd.flags)
	c.int(int64(cmd.firstKey))
	c.int(int64(cmd.lastKey))
	c.int(int64(cmd.step))
	cats := strings.Fields(cmd.acl)
	c.setLen(len(cats))
	for _, cat := range cats {
		c.simple(cat)
	}
	c.setLen(0) // tips
	if cmd.firstKey > 0 {
		c.keySpec(cmd)
	} else {
		c.array(0)
	}
	c.subcommandsInfo(cmd)
}

// subcommandsInfo writes the last element of cmd's COMMAND INFO entry: its
// subcommands' entries, or, as Redis writes it for a command without
// subcommands, an empty set.
func (c *conn) subcommandsInfo(cmd *command) {
	if cmd.subList == nil {
		c.setLen(0)
		return
	}
	c.array(len(cmd.subList))
	for _, s := range cmd.subList {
		c.commandInfo(s)
	}
}

// keySpec writes one Redis 7 key specification for cmd's key range.
func (c *conn) keySpec(cmd *command) {
	c.array(1)
	flags := "RO"
	if cmd.flags&flagWrite != 0 {
		flags = "RW"
	}
	c.mapLen(3)
	c.bulkStr("flags")
	c.setLen(1)
	c.simple(flags)
	c.bulkStr("begin_search")
	c.mapLen(2)
	c.bulkStr("type")
	c.bulkStr("index")
	c.bulkStr("spec")
	c.mapLen(1)
	c.bulkStr("index")
	c.int(int64(cmd.firstKey))
	c.bulkStr("find_keys")
	c.mapLen(2)
	c.bulkStr("type")
	c.bulkStr("range")
	c.bulkStr("spec")
	c.mapLen(3)
	last := cmd.lastKey
	if last > 0 {
		last -= cmd.firstKey
	}
	c.bulkStr("lastkey")
	c.int(int64(last))
	c.bulkStr("keystep")
	c.int(int64(cmd.step))
	c.bulkStr("limit")
	c.int(0)
}

func topCommands() []*command {
	l := make([]*command, 0, len(commands))
	for _, cmd := range commandList {
		if cmd.parent == nil {
			l = append(l, cmd)
		}
	}
	return l
}

// findCommand looks a command up by name or "container|sub" full name.
func findCommand(name []byte) *command {
	var scratch [32]byte
	if i := strings.IndexByte(string(name), '|'); i >= 0 {
		parent := lookupName(commands, name[:i], &scratch)
		if parent == nil || parent.subs == nil {
			return nil
		}
		return lookupName(parent.subs, name[i+1:], &scratch)
	}
	return lookupName(commands, name, &scratch)
}

func cmdCommandAll(c *conn, _ [][]byte) {
	l := topCommands()
	c.array(len(l))
	for _, cmd := range l {
		c.commandInfo(cmd)
	}
}

func cmdCommandCount(c *conn, _ [][]byte) { c.int(int64(len(commands))) }

func cmdCommandInfo(c *conn, args [][]byte) {
	if len(args) == 2 {
		cmdCommandAll(c, args)
		return
	}
	c.array(len(args) - 2)
	for _, name := range args[2:] {
		if cmd := findCommand(name); cmd != nil {
			c.commandInfo(cmd)
		} else {
			c.null()
		}
	}
}

// commandDocs writes cmd's COMMAND DOCS entry: Redis's recorded docs when
// there are some (with arguments, for redis-cli's hints), else the built-in
// summary. Subcommands are the ones cachenode implements.
func (c *conn) commandDocs(cmd *command) {
	rec, ok := recordedDocs()[cmd.name]
	var fields []value
	if ok {
		for i := 0; i+1 < len(rec.elems); i += 2 {
			if rec.elems[i].str != "subcommands" {
				fields = append(fields, rec.elems[i], rec.elems[i+1])
			}
		}
	} else {
		str := func(s string) value { return value{kind: '$', str: s} }
		fields = []value{str("summary"), str(cmd.summary), str("since"), str(cmd.since),
			str("group"), str(cmd.group), str("complexity"), str(cmd.complex)}
	}
	n := len(fields) / 2
	if cmd.subList != nil {
		n++
	}
	c.mapLen(n)
	for _, f := range fields {
		c.out = appendValue(c.out, f, c.proto)
	}
	if cmd.subList != nil {
		c.bulkStr("subcommands")
		c.mapLen(len(cmd.subList))
		for _, s := range cmd.subList {
			c.bulkStr(s.name)
			c.commandDocs(s)
		}
	}
}

func cmdCommandDocs(c *conn, args [][]byte) {
	var l []*command
	if len(args) == 2 {
		l = topCommands()
	} else {
		for _, name := range args[2:] {
			if cmd := findCommand(name); cmd != nil {
				l = append(l, cmd)
			}
		}
	}
	c.mapLen(len(l))
	for _, cmd := range l {
		c.bulkStr(cmd.name)
		c.commandDocs(cmd)
	}
}

func cmdCommandList(c *conn, args [][]byte) {
	l := topCommands()
	var keep func(*command) bool
	switch {
	case len(args) == 2:
	case len(args) == 5 && eq(args[2], "filterby"):
		arg := args[4]
		switch {
		case eq(args[3], "module"):
			keep = func(*command) bool { return false }
		case eq(args[3], "aclcat"):
			keep = func(cmd *command) bool {
				for _, cat := range strings.Fields(cmd.acl) {
					if strings.EqualFold(cat[1:], string(arg)) {
						return true
					}
				}
				return false
			}
		case eq(args[3], "pattern"):
			keep = func(cmd *command) bool { return store.Match(arg, []byte(cmd.name), true) }
		default:
			c.err(errSyntax)
			return
		}
	default:
		c.err(errSyntax)
		return
	}
	var names []string
	for _, cmd := range l {
		if keep == nil || keep(cmd) {
			names = append(names, cmd.name)
		}
		for _, s := range cmd.subList {
			if keep != nil && keep(s) {
				names = append(names, s.name)
			}
		}
	}
	c.array(len(names))
	for _, n := range names {
		c.bulkStr(n)
	}
}

func cmdCommandHelp(c *conn, _ [][]byte) {
	c.helpReply("COMMAND",
		"(no subcommand)", "    Return details about all commands.",
		"COUNT", "    Return the total number of commands in this server.",
		"LIST", "    Return a list of all commands in this server.",
		"INFO [<command-name> ...]", "    Return details about multiple commands.",
		"DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
		"GETKEYS <full-command>", "    Return the keys from a full command.",
		"GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full command.",
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
	case f.addr != nil && cl.addr != string(f.addr):
		return false
	case f.laddr != nil && cl.laddr != string(f.laddr):
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
	c.s.mu.Lock()
	for cl := range c.s.conns {
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
		delete(c.s.conns, cl)
		cl.kill()
	}
	c.s.mu.Unlock()
	if !oldForm {
		c.int(int64(killed))
	} else if killed == 0 {
		c.err("ERR No such client")
	} else {
		c.ok()
	}
}

// parseOnOff parses the ON|OFF argument of CLIENT NO-EVICT / NO-TOUCH.
func parseOnOff(b []byte) (on, ok bool) {
	switch {
	case eq(b, "on"):
		return true, true
	case eq(b, "off"):
		return false, true
	}
	return false, false
}

// cmdClientNoEvict is accepted and shown in CLIENT LIST (flag e): cachenode
// never evicts clients for memory (each costs a bounded ~13 KB idle), so
// every client is already protected.
func cmdClientNoEvict(c *conn, args [][]byte) {
	on, ok := parseOnOff(args[2])
	if !ok {
		c.err(errSyntax)
		return
	}
	c.noEvict.Store(on)
	c.ok()
}

// cmdClientReply is CLIENT REPLY ON|OFF|SKIP: OFF drops the replies to every
// command until ON, SKIP drops the reply to the next command; neither has a
// reply of its own. Invalidation messages (RESP3 pushes) still go out.
// conn.serve applies the setting (endReply).
func cmdClientReply(c *conn, args [][]byte) {
	switch {
	case eq(args[2], "on"):
		c.replyOff, c.replySkip, c.replySkipNext = false, false, false
		c.monReplyOff.Store(false)
		c.ok()
	case eq(args[2], "off"):
		c.replyOff = true
		c.monReplyOff.Store(true)
	case eq(args[2], "skip"):
		if !c.replyOff {
			c.replySkipNext = true
		}
	default:
		c.err(errSyntax)
	}
}

// cmdClientUnblock is CLIENT UNBLOCK id [TIMEOUT|ERROR]: it ends a client's
// WAIT (the only blocking command) as its timeout would, or with an
// -UNBLOCKED error, and answers 1; 0 for a client that is not blocked.
func cmdClientUnblock(c *conn, args [][]byte) {
	if len(args) > 4 {
		c.err("ERR unknown subcommand or wrong number of arguments for '" + trunc(args[1], 128) + "'. Try CLIENT HELP.")
		return
	}
	if len(args) == 4 && !eq(args[3], "timeout") && !eq(args[3], "error") {
		c.err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
		return
	}
	id, ok := resp.ParseInt(args[2])
	if !ok {
		c.err(errNotInt)
		return
	}
	mode := blockUnblockTime
	if len(args) == 4 && eq(args[3], "error") {
		mode = blockUnblockError
	}
	var target *conn
	c.s.mu.Lock()
	for cl := range c.s.conns {
		if cl.id == id {
			target = cl
			break
		}
	}
	c.s.mu.Unlock()
	if target != nil && target.unblock(mode) {
		c.int(1)
		return
	}
	c.int(0)
}

// cmdClientNoTouch: with NO-TOUCH on, GET, MGET and GETRANGE do not update
// the keys' LRU clock (TOUCH still does), so a monitoring client does not
// keep keys from being evicted.
func cmdClientNoTouch(c *conn, args [][]byte) {
	on, ok := parseOnOff(args[2])
	if !ok {
		c.err(errSyntax)
		return
	}
	c.noTouch.Store(on)
	c.ok()
}
