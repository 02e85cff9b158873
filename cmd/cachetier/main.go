// Command cachetier prints the cache tier as a client sees it: it discovers
// the nodes as a cacheclient.Client with the same discovery does (--static,
// --dns, --srv or --slot-file), asks each node for its figures, and prints
// the ring: each slot, its node, whether the node answers, its keys
// (DBSIZE), memory (INFO used_memory) and hit ratio (keyspace_hits over hits
// and misses). With --key K it also prints the node that owns K and the one
// that takes it over if the owner goes down.
//
//	cachetier --static 10.0.0.1:7000,10.0.0.2:7000=1 --key user:1
//	cachetier --srv _redis._tcp.cache.default.svc.cluster.local --json
//
// "cachetier --help" lists every flag. Exit status: 0 when it printed a
// view, 1 when discovery failed or found no node, 2 on a bad command line.
//
// It is a command of its own, not part of cachenode, so the node's binary
// carries no Redis client: fewer pages resident in every node. The container
// image ships both.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/cachetier/cachetier/cacheclient"
)

// tierUsage is cachetier's help.
const tierUsage = `Usage: cachetier DISCOVERY [--key K] [--json] [flags]

Prints the ring a client with the same discovery builds: each slot, its
node, whether the node answers, its keys (DBSIZE), memory (INFO used_memory)
and hit ratio (INFO keyspace_hits/misses); with --key, the key's owner and
the node that takes it over if the owner goes down.

Discovery (one of them, as the client's cacheclient.Static, DNS, SlotFile):
  --static LIST      comma-separated host:port, each optionally =slot
                     (10.0.0.1:7000=0,10.0.0.2:7000=1)
  --dns NAME:PORT    A/AAAA records of NAME, nodes on PORT
  --srv NAME         SRV records of NAME (target:port; a target named like a
                     StatefulSet pod, cache-3.cache.ns.svc, is slot 3)
  --slot-file PATH   a ring text file (cacheclient.SlotFile)
Flags:
  --key K            also print the owner and failover owner of key K
  --json             print JSON instead of a table
  --network NET      address family of --dns lookups: ip (default), ip4, ip6
  --password PW      AUTH with PW
  --timeout DUR      bound on each request to a node (default 1s)
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// usageError is a bad command line: reported with a hint and exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// prefixed returns err's message starting with "cachetier: " once.
func prefixed(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "cachetier: ") {
		return msg
	}
	return "cachetier: " + msg
}

// tierOptions is the parsed command line of cachetier.
type tierOptions struct {
	disc     cacheclient.Discoverer
	key      string
	hasKey   bool
	json     bool
	password string
	timeout  time.Duration
}

func parseTierFlags(args []string, stderr io.Writer) (*tierOptions, error) {
	fs := flag.NewFlagSet("cachetier", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		static   = fs.String("static", "", "")
		dnsName  = fs.String("dns", "", "")
		srv      = fs.String("srv", "", "")
		slotFile = fs.String("slot-file", "", "")
		key      = fs.String("key", "", "")
		asJSON   = fs.Bool("json", false, "")
		network  = fs.String("network", "", "")
		pass     = fs.String("password", "", "")
		timeout  = fs.Duration("timeout", time.Second, "")
	)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stderr, tierUsage)
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	o := &tierOptions{json: *asJSON, password: *pass, timeout: *timeout}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "key" {
			o.key, o.hasKey = *key, true
		}
	})
	if *timeout <= 0 {
		return nil, usageError{fmt.Sprintf("invalid value %s for --timeout: must be positive", *timeout)}
	}
	n := 0
	for _, v := range []string{*static, *dnsName, *srv, *slotFile} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return nil, usageError{"give exactly one of --static, --dns, --srv, --slot-file"}
	}
	switch {
	case *static != "":
		o.disc = cacheclient.Static(strings.Split(*static, ",")...)
	case *dnsName != "":
		host, port, err := net.SplitHostPort(*dnsName)
		p, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || p <= 0 || p > 65535 {
			return nil, usageError{fmt.Sprintf("invalid value %q for --dns: want NAME:PORT", *dnsName)}
		}
		o.disc = &cacheclient.DNS{Name: host, Port: p, Network: *network, Timeout: *timeout}
	case *srv != "":
		o.disc = &cacheclient.DNS{Name: *srv, SRV: true, Timeout: *timeout}
	default:
		o.disc = &cacheclient.SlotFile{Path: *slotFile}
	}
	return o, nil
}

// tierNode is one row of the tier view.
type tierNode struct {
	Slot     *int     `json:"slot"` // null: not placed
	Addr     string   `json:"addr"` // "" for a vacant slot
	Up       bool     `json:"up"`
	Keys     *int64   `json:"keys,omitempty"`
	Memory   *int64   `json:"used_memory,omitempty"`
	Hits     *int64   `json:"keyspace_hits,omitempty"`
	Misses   *int64   `json:"keyspace_misses,omitempty"`
	HitRatio *float64 `json:"hit_ratio,omitempty"` // null when the node served no read
	Error    string   `json:"error,omitempty"`
	// Slots is how many consecutive slots from Slot the row covers (a
	// weighted node, or a run of vacant slots); 0 when not placed.
	Slots int `json:"slots"`
}

// tierView is what cachetier prints.
type tierView struct {
	// Placement is "slots" (every node placed at its slot), "table" (a slot
	// file's table) or "order" (some node has no slot: placement depends on
	// the order each process met the nodes in).
	Placement string     `json:"placement"`
	Ring      string     `json:"ring"` // the ring's text form, down nodes marked
	Nodes     []tierNode `json:"nodes"`
	Key       *tierKey   `json:"key,omitempty"`
}

// tierKey is a key's placement.
type tierKey struct {
	Key      string `json:"key"`
	Owner    string `json:"owner"`              // "" when no node is up
	Failover string `json:"failover,omitempty"` // the owner once Owner is down
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseTierFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s\nRun 'cachetier --help' for usage.\n", prefixed(err))
		return 2
	}
	redis.SetLogger(quietLogger{}) // failures show in the table, not as go-redis log lines
	v, err := tierLook(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s\n", prefixed(err))
		return 1
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	} else {
		printTier(stdout, v)
	}
	return 0
}

// tierLook discovers the tier as a client would, then asks every node for
// its figures; a node that does not answer is down.
func tierLook(o *tierOptions, stderr io.Writer) (*tierView, error) {
	c, err := cacheclient.New(cacheclient.Config{
		Discovery: o.disc,
		Tier:      cacheclient.TierConfig{Password: o.password, Timeout: o.timeout, DialTimeout: o.timeout},
		L1:        cacheclient.L1Config{Bytes: -1},
		Health:    cacheclient.HealthConfig{Interval: time.Hour},
		Logger:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st := c.Stats()
	r := c.Ring()
	addrs := r.Nodes()
	for _, n := range st.Nodes {
		if !slices.Contains(addrs, n.Addr) {
			addrs = append(addrs, n.Addr) // not placed yet: did not answer
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("discovery found no nodes")
	}
	figures := make([]tierNode, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() { figures[i] = askNode(a, o) })
	}
	wg.Wait()
	live := r
	byAddr := map[string]tierNode{}
	for _, f := range figures {
		byAddr[f.Addr] = f
		if !f.Up {
			live = live.WithDown(f.Addr)
		}
	}
	v := &tierView{Placement: "slots", Ring: live.String()}
	if st.UnslottedNodes > 0 {
		v.Placement = "order"
	}
	if _, isFile := o.disc.(*cacheclient.SlotFile); isFile {
		v.Placement = "table"
	}
	table := r.Slots()
	for i := 0; i < len(table); {
		j := i + 1
		for j < len(table) && table[j] == table[i] {
			j++
		}
		slot := i
		row := tierNode{Slot: &slot, Slots: j - i}
		if table[i] != "" {
			row = byAddr[table[i]]
			row.Slot, row.Slots = &slot, j-i
			row.Up = row.Up && !r.IsDown(table[i]) // operator-marked down in a slot file
		}
		v.Nodes = append(v.Nodes, row)
		i = j
	}
	for _, a := range addrs {
		if !r.Has(a) {
			row := byAddr[a]
			row.Up = false
			if row.Error == "" {
				row.Error = "not placed: it has not told its slot"
			}
			v.Nodes = append(v.Nodes, row)
		}
	}
	if o.hasKey {
		k := &tierKey{Key: o.key}
		if owners := live.Owners(o.key, 2, nil); len(owners) > 0 {
			k.Owner = owners[0]
			if len(owners) > 1 {
				k.Failover = owners[1]
			}
		}
		v.Key = k
	}
	return v, nil
}

// askNode reads a node's figures: DBSIZE, INFO memory, INFO stats.
func askNode(addr string, o *tierOptions) tierNode {
	row := tierNode{Addr: addr}
	cl := redis.NewClient(&redis.Options{
		Addr: addr, Password: o.password, DialTimeout: o.timeout, ReadTimeout: o.timeout, WriteTimeout: o.timeout,
		MaxRetries: -1, PoolSize: 1, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*o.timeout)
	defer cancel()
	keys, err := cl.DBSize(ctx).Result()
	if err != nil {
		row.Error = err.Error()
		var re redis.Error
		row.Up = errors.As(err, &re) // it answered, with an error
		return row
	}
	row.Up, row.Keys = true, &keys
	info := ""
	for _, section := range []string{"memory", "stats"} {
		s, err := cl.Info(ctx, section).Result()
		if err != nil {
			row.Error = err.Error()
			return row
		}
		info += s
	}
	row.Memory = infoInt(info, "used_memory")
	row.Hits, row.Misses = infoInt(info, "keyspace_hits"), infoInt(info, "keyspace_misses")
	if row.Hits != nil && row.Misses != nil && *row.Hits+*row.Misses > 0 {
		ratio := float64(*row.Hits) / float64(*row.Hits+*row.Misses)
		row.HitRatio = &ratio
	}
	return row
}

// infoInt returns the integer field name of an INFO reply, or nil.
func infoInt(info, name string) *int64 {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return &n
			}
		}
	}
	return nil
}

// printTier writes the view as a table that fits 80 columns: long
// addresses are shortened in the middle.
func printTier(w io.Writer, v *tierView) {
	const fixed = 11 + 2 + 2 + 5 + 2 + 10 + 2 + 9 + 2 + 5 // slot, state, keys, memory, hits and the gaps
	width := len("ADDRESS")
	for _, n := range v.Nodes {
		width = max(width, len(n.Addr))
	}
	width = min(width, 80-1-fixed)
	fmt.Fprintf(w, "%-11s  %-*s  %-5s  %10s  %9s  %5s\n", "SLOT", width, "ADDRESS", "STATE", "KEYS", "MEMORY", "HITS")
	for _, n := range v.Nodes {
		slot := "-"
		if n.Slot != nil {
			slot = strconv.Itoa(*n.Slot)
			if n.Slots > 1 {
				slot += "-" + strconv.Itoa(*n.Slot+n.Slots-1)
			}
		}
		if n.Addr == "" {
			fmt.Fprintf(w, "%-11s  %-*s  hole\n", slot, width, "(vacant)")
			continue
		}
		state := "up"
		if !n.Up {
			state = "down"
		}
		keys, mem, hits := "-", "-", "-"
		if n.Keys != nil {
			keys = strconv.FormatInt(*n.Keys, 10)
		}
		if n.Memory != nil {
			mem = humanBytes(*n.Memory)
		}
		if n.HitRatio != nil {
			hits = fmt.Sprintf("%.0f%%", 100**n.HitRatio)
		}
		fmt.Fprintf(w, "%-11s  %-*s  %-5s  %10s  %9s  %5s\n", slot, width, shorten(n.Addr, width), state, keys, mem, hits)
	}
	for _, n := range v.Nodes {
		if n.Error != "" {
			fmt.Fprintln(w, shorten(n.Addr+": "+n.Error, 79))
		}
	}
	switch v.Placement {
	case "order":
		fmt.Fprintln(w, "placement: by order; some node has no slot, so processes may disagree")
		fmt.Fprintln(w, "           (run cachenode --slot, or name slots in discovery)")
	case "table":
		fmt.Fprintln(w, "placement: the slot file's table")
	default:
		fmt.Fprintln(w, "placement: from the nodes' slots")
	}
	if v.Key != nil {
		owner, fo := v.Key.Owner, v.Key.Failover
		if owner == "" {
			owner = "(no node up)"
		}
		if fo == "" {
			fo = "(none)"
		}
		fmt.Fprintf(w, "key %s\n  owner     %s\n  failover  %s\n", shorten(strconv.Quote(v.Key.Key), 76), shorten(owner, 68), shorten(fo, 68))
	}
}

// shorten cuts s to at most n bytes, replacing its middle with "...".
func shorten(s string, n int) string {
	if len(s) <= n || n < 5 {
		return s
	}
	head := (n - 3) / 2
	return s[:head] + "..." + s[len(s)-(n-3-head):]
}

// humanBytes writes b as redis-cli's used_memory_human does (1.50M).
func humanBytes(b int64) string {
	const unit = 1024
	if b < unit {
		return strconv.FormatInt(b, 10) + "B"
	}
	f, suffix := float64(b), ""
	for _, s := range []string{"K", "M", "G", "T"} {
		if f < unit {
			break
		}
		f, suffix = f/unit, s
	}
	return fmt.Sprintf("%.2f%s", f, suffix)
}

// quietLogger drops go-redis' own log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
