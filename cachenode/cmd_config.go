// CONFIG GET, SET, RESETSTAT, REWRITE and the parameters they know.

package cachenode

import (
	"bytes"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/cachetier/cachetier/internal/resp"
)

// configCommands is CONFIG and its subcommands.
var configCommands = []*command{
	{
		name: "config", arity: -2,
		acl: "@slow",
		doc: docMeta{group: "server", since: "2.0.0", complexity: "Depends on subcommand.",
			summary: "A container for server configuration commands."},
		subs: []*command{
			{
				name: "config|get", arity: -3, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdConfigGet,
				doc: docMeta{group: "server", since: "2.0.0", complexity: "O(N) when N is the number of configuration parameters provided",
					summary: "Returns the effective values of configuration parameters."},
			},
			{
				name: "config|set", arity: -4, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdConfigSet,
				doc: docMeta{group: "server", since: "2.0.0", complexity: "O(N) when N is the number of configuration parameters provided",
					summary: "Sets configuration parameters in-flight."},
			},
			{
				name: "config|resetstat", arity: 2, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdConfigResetStat,
				doc: docMeta{group: "server", since: "2.0.0", complexity: "O(1)",
					summary: "Resets the server's statistics."},
			},
			{
				name: "config|rewrite", arity: 2, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdConfigRewrite,
				doc: docMeta{group: "server", since: "2.8.0", complexity: "O(1)",
					summary: "Persists the effective configuration to file."},
			},
			{
				name: "config|help", arity: 2, flags: flagLoading | flagStale,
				acl: "@slow", run: cmdConfigHelp,
				doc: docMeta{group: "server", since: "5.0.0", complexity: "O(1)",
					summary: "Returns helpful text about the different subcommands."},
			},
		},
	},
}

// configParam is one parameter of CONFIG GET/SET.
type configParam struct {
	name string
	get  func(s *Server) string
	// set validates and returns an apply function, or an error message
	// (Redis's text after "argument ..."). nil set: immutable.
	set func(s *Server, v []byte) (apply func(), errMsg string)
}

var configParams = []configParam{
	{"appendonly", func(*Server) string { return "no" }, fixedValue("no")},
	{"bind", func(s *Server) string { return hostOf(s) }, nil},
	{"client-query-buffer-limit", func(*Server) string { return strconv.Itoa(resp.DefaultMaxQueryBuffer) }, nil},
	{"databases", func(*Server) string { return "1" }, nil},
	{"lfu-decay-time", func(s *Server) string { return strconv.FormatInt(s.settings.lfuDecayTime.Load(), 10) },
		intSetter(0, math.MaxInt32, func(s *Server, n int64) { s.settings.lfuDecayTime.Store(n); s.store.SetLFUDecayTime(n) })},
	{"lfu-log-factor", func(s *Server) string { return strconv.FormatInt(s.settings.lfuLogFactor.Load(), 10) },
		intSetter(0, math.MaxInt32, func(s *Server, n int64) { s.settings.lfuLogFactor.Store(n); s.store.SetLFULogFactor(n) })},
	{"maxclients", func(s *Server) string { return strconv.FormatInt(s.settings.maxClients.Load(), 10) },
		setMaxClients},
	{"maxmemory", func(s *Server) string { return strconv.FormatUint(uint64(s.settings.maxMemory.Load()), 10) }, setMaxMemory},
	{"maxmemory-policy", func(s *Server) string { return store.Policy(s.settings.policy.Load()).String() }, setPolicy},
	{"port", func(s *Server) string { return portOf(s) }, nil},
	{"proto-max-bulk-len", func(s *Server) string { return strconv.FormatInt(s.settings.protoMaxBulk.Load(), 10) },
		setProtoMaxBulk},
	{"requirepass", func(s *Server) string { return *s.settings.requirePass.Load() }, setRequirePass},
	{"slot", func(s *Server) string { // "" without a slot; stock redis answers an empty array
		if !s.cfg.HasSlot {
			return ""
		}
		return strconv.Itoa(s.cfg.Slot)
	}, nil},
	{"timeout", func(s *Server) string {
		return strconv.FormatInt(int64(time.Duration(s.settings.timeout.Load())/time.Second), 10)
	},
		intSetter(0, 1<<31-1, func(s *Server, n int64) { s.settings.timeout.Store(int64(time.Duration(n) * time.Second)) })},
	{"tracking-table-max-keys", func(s *Server) string { return strconv.FormatInt(s.settings.trackingMaxKeys.Load(), 10) },
		intSetter(0, math.MaxInt64, func(s *Server, n int64) { s.settings.trackingMaxKeys.Store(n) })},
}

// The snapshot parameters: dir, dbfilename, save (persist_config.go).
func init() { configParams = append(configParams, persistConfigParams...) }

func hostOf(s *Server) string {
	if a := s.Addr(); a != nil {
		if h, _, err := net.SplitHostPort(a.String()); err == nil {
			return h
		}
	}
	return ""
}

func portOf(s *Server) string {
	if a := s.Addr(); a != nil {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			return p
		}
	}
	return "0"
}

// fixedValue accepts CONFIG SET only with the value cachenode always has
// (e.g. appendonly no, which scripts commonly send).
func fixedValue(v string) func(*Server, []byte) (func(), string) {
	return func(_ *Server, b []byte) (func(), string) {
		if string(b) != v {
			return nil, "can't set immutable config"
		}
		return func() {}, ""
	}
}

func intSetter(lo, hi int64, apply func(*Server, int64)) func(*Server, []byte) (func(), string) {
	return func(s *Server, b []byte) (func(), string) {
		n, msg := intArg(b, lo, hi)
		if msg != "" {
			return nil, msg
		}
		return func() { apply(s, n) }, ""
	}
}

// intArg parses an integer CONFIG SET value in [lo, hi], or returns Redis's
// error text.
func intArg(b []byte, lo, hi int64) (int64, string) {
	n, ok := resp.ParseInt(b) // Redis's string2ll: no sign '+', no "-0"
	if !ok {
		return 0, "argument couldn't be parsed into an integer"
	}
	if n < lo || n > hi {
		return 0, "argument must be between " + strconv.FormatInt(lo, 10) + " and " + strconv.FormatInt(hi, 10) + " inclusive"
	}
	return n, ""
}

// reservedFDs is how many descriptors beyond maxclients the open-files limit
// must allow (listeners, the metrics server, logs...), as Redis's
// CONFIG_MIN_RESERVED_FDS.
const reservedFDs = 32

// setMaxClients checks that the open-files limit allows the new maxclients,
// raising it if it can (fitOpenFiles), and answers Redis's error otherwise.
func setMaxClients(s *Server, b []byte) (func(), string) {
	n, msg := intArg(b, 1, 1<<32-1)
	if msg != "" {
		return nil, msg
	}
	if allowed, _ := fitOpenFiles(n); allowed < n {
		return nil, "The operating system is not able to handle the specified number of clients, try with " + strconv.FormatInt(max(allowed, 1), 10)
	}
	return func() { s.settings.maxClients.Store(n) }, ""
}

// setMaxMemory accepts a memory value as Redis parses one (memtoull: an
// empty value is 0, anything up to 2^64-1). The setting keeps the value's
// 64 bits (CONFIG GET shows it unsigned, INFO signed, as Redis does); a
// limit of 2^63 or more is no limit for the store.
func setMaxMemory(s *Server, b []byte) (func(), string) {
	u, ok := memToULL(string(b))
	if !ok {
		return nil, "argument must be a memory value"
	}
	n := max(int64(u), 0)
	return func() {
		s.settings.maxMemory.Store(int64(u))
		s.store.SetMaxMemory(n)
		if n > 0 {
			_ = s.store.EnsureMemory() // evict now, like Redis after lowering maxmemory
		}
	}, ""
}

func setPolicy(s *Server, b []byte) (func(), string) {
	p, err := store.ParsePolicy(string(b))
	if err != nil {
		return nil, "argument(s) must be one of the following: " + store.PolicyNames
	}
	return func() {
		s.settings.policy.Store(int64(p))
		s.store.SetPolicy(p)
	}, ""
}

func setRequirePass(s *Server, b []byte) (func(), string) {
	v := string(b)
	return func() { s.settings.requirePass.Store(&v) }, ""
}

func cmdConfigGet(c *conn, args [][]byte) {
	seen := make(map[string]bool)
	var names []string
	var exact map[string]string // parameter -> name as the client spelled it
	for _, pat := range args[2:] {
		if !bytes.ContainsAny(pat, "*?[\\") {
			// Redis answers an exact name with the spelling it was asked with.
			if p := findParam(pat); p != nil && !seen[p.name] {
				seen[p.name] = true
				names = append(names, p.name)
				if exact == nil {
					exact = make(map[string]string)
				}
				exact[p.name] = string(pat)
			}
			continue
		}
		for _, p := range configParams {
			if !seen[p.name] && store.Match(pat, []byte(p.name), true) {
				seen[p.name] = true
				names = append(names, p.name)
			}
		}
	}
	sort.Strings(names)
	c.mapLen(len(names))
	for _, n := range names {
		for _, p := range configParams {
			if p.name == n {
				if e, ok := exact[n]; ok {
					c.bulkStr(e)
				} else {
					c.bulkStr(n)
				}
				c.bulkStr(p.get(c.s))
			}
		}
	}
}

func findParam(name []byte) *configParam {
	for i := range configParams {
		if eq(name, configParams[i].name) {
			return &configParams[i]
		}
	}
	return nil
}

func cmdConfigSet(c *conn, args [][]byte) {
	if len(args)%2 != 0 {
		c.err("ERR wrong number of arguments for 'config|set' command")
		return
	}
	var applies []func()
	seen := make(map[string]bool)
	for i := 2; i < len(args); i += 2 {
		p := findParam(args[i])
		if p == nil {
			c.err("ERR Unknown option or number of arguments for CONFIG SET - '" + string(args[i]) + "'")
			return
		}
		if seen[p.name] {
			c.err("ERR CONFIG SET failed (possibly related to argument '" + string(args[i]) + "') - duplicate parameter")
			return
		}
		seen[p.name] = true
		if p.set == nil {
			c.err("ERR CONFIG SET failed (possibly related to argument '" + string(args[i]) + "') - can't set immutable config")
			return
		}
		apply, msg := p.set(c.s, args[i+1])
		if msg != "" {
			c.err("ERR CONFIG SET failed (possibly related to argument '" + string(args[i]) + "') - " + msg)
			return
		}
		applies = append(applies, apply)
	}
	for _, a := range applies {
		a()
	}
	c.ok()
}

func cmdConfigHelp(c *conn, _ [][]byte) {
	c.helpReply("CONFIG",
		"GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>", "    Set the configuration <directive> to <value>.",
		"RESETSTAT", "    Reset statistics reported by the INFO command.",
		"REWRITE", "    Rewrite the configuration file.",
	)
}

// cmdConfigRewrite answers as redis-server started without a configuration
// file does: cachenode takes its configuration from flags only.
func cmdConfigRewrite(c *conn, _ [][]byte) { c.err("ERR The server is running without a config file") }

// cmdConfigResetStat resets the statistics INFO reports: keyspace hits and
// misses, expired and evicted keys, commands processed, commandstats,
// errorstats and total_error_replies, connections received and rejected,
// network bytes. Prometheus counters are not reset.
func cmdConfigResetStat(c *conn, _ [][]byte) {
	c.s.resetStats()
	c.ok()
}

// proto-max-bulk-len: the largest bulk argument and the largest string value.

// minProtoMaxBulk is the smallest proto-max-bulk-len Redis accepts (1mb).
const minProtoMaxBulk = 1 << 20

// setProtoMaxBulk accepts a memory value in [1mb, 2^63-1], parsed and
// checked as Redis parses a MEMORY_CONFIG (memtoull, then the range).
func setProtoMaxBulk(s *Server, b []byte) (func(), string) {
	u, ok := memToULL(string(b))
	if !ok {
		return nil, "argument must be a memory value"
	}
	n := int64(u) // as Redis, a value past 2^63-1 turns negative and fails the range check
	if n < minProtoMaxBulk {
		return nil, "argument must be between " + strconv.Itoa(minProtoMaxBulk) + " and " + strconv.FormatInt(math.MaxInt64, 10) + " inclusive"
	}
	return func() { s.settings.protoMaxBulk.Store(n) }, ""
}

// memToULL parses a memory value like Redis's memtoull: decimal digits and
// an optional unit (b, k, kb, m, mb, g, gb, case-insensitive); no sign.
// Like strtoull, too many digits give 2^64-1, and the unit multiplies
// modulo 2^64.
func memToULL(v string) (uint64, bool) {
	if strings.HasPrefix(v, "-") {
		return 0, false
	}
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	var mul uint64
	switch strings.ToLower(v[i:]) {
	case "", "b":
		mul = 1
	case "k":
		mul = 1000
	case "kb":
		mul = 1024
	case "m":
		mul = 1000 * 1000
	case "mb":
		mul = 1024 * 1024
	case "g":
		mul = 1000 * 1000 * 1000
	case "gb":
		mul = 1024 * 1024 * 1024
	default:
		return 0, false
	}
	if i >= 128 {
		return 0, false
	}
	var n uint64
	if i > 0 {
		var err error
		if n, err = strconv.ParseUint(v[:i], 10, 64); err != nil {
			n = math.MaxUint64 // strtoull saturates
		}
	}
	return n * mul, true
}
