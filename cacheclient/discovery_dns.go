package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DNS re-resolves Name every Interval (default 10s): A/AAAA records with Port,
// or SRV when SRV is true (target:port). Resolver may be set for tests (a
// *net.Resolver dialing your in-process DNS server). Addresses are kept in a
// stable join order: known ones keep their position, new ones are appended,
// vanished ones removed.
//
// This is how Kubernetes headless services are discovered: Name
// "cachenode.default.svc.cluster.local" with Port 7000 (A/AAAA, one record
// per ready pod), or SRV with Name "_redis._tcp.cachenode.default.svc.cluster.local".
//
// What the join order means for placement: within one process, a node that
// appears is appended (several at once: sorted), so existing nodes keep
// their slots and only the keys the new node takes move; a node that
// vanishes gives up only its own keys (when the client builds rings with
// [Membership.Build]). Across processes, the order depends on what each
// process has seen: processes that started together and saw the same
// answers agree, but one that starts later sees the current set sorted, and
// may order nodes differently from an older process, and then place some
// keys elsewhere. Each process stays correct (a key lives on one node per
// process, and values carry their own freshness), but the tier holds some
// keys twice and a Delete from one process may miss the copy another
// process reads until it expires. Restarting clients after a scale change
// converges them; deployments that need every process to agree exactly
// should publish an explicit slot table and use [SlotFile].
//
// A failed lookup, or an answer with no address, keeps the previous set
// (reported through OnError) and is retried at the next interval; until the
// first success, lookups are retried sooner (100 ms doubling up to
// Interval). DNS TTLs are not consulted; Interval decides freshness.
type DNS struct {
	// Name is the name to resolve (required).
	Name string
	// Port is the node port for A/AAAA answers (required unless SRV).
	Port int
	// SRV resolves Name's SRV records and uses target:port from them;
	// priorities and weights are ignored: every target is a node.
	SRV bool
	// Network selects the address families of A/AAAA lookups: "ip" (both;
	// the default), "ip4" or "ip6". On a dual-stack cluster where every pod
	// has an A and an AAAA record, choose one family, or each node counts
	// twice.
	Network string
	// Interval is the time between lookups; 0 means 10s.
	Interval time.Duration
	// Timeout bounds one lookup; 0 means 5s.
	Timeout time.Duration
	// Resolver does the lookups; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// OnError, if not nil, is called (on Watch's goroutine) with every
	// failed or empty lookup.
	OnError func(err error)
}

// Watch resolves d.Name now and every d.Interval, and calls update with the
// first set of addresses and then with every different set. It returns
// ctx.Err() when ctx ends, or a configuration error at once.
func (d *DNS) Watch(ctx context.Context, update func(Membership)) error {
	if err := d.check(); err != nil {
		return err
	}
	interval := d.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	var last []string
	for n := 0; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		addrs, err := d.lookup(ctx)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil && len(addrs) == 0 {
			err = fmt.Errorf("%w: %s", ErrDiscoveryEmpty, d.Name)
		}
		if err != nil && d.OnError != nil {
			d.OnError(err)
		}
		wait := interval
		if len(addrs) > 0 {
			next := discJoinOrder(last, addrs)
			if last == nil || !slices.Equal(next, last) {
				last = next
				update(Membership{Addrs: slices.Clone(next)})
			}
		} else if last == nil {
			wait = discRetryDelay(n, interval)
			n++
		}
		if !discSleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// check validates the configuration.
func (d *DNS) check() error {
	if d.Name == "" {
		return errors.New("cacheclient: DNS.Name is empty")
	}
	if !d.SRV && (d.Port <= 0 || d.Port > 65535) {
		return fmt.Errorf("cacheclient: DNS.Port %d is not a port (required for A/AAAA lookups)", d.Port)
	}
	switch d.Network {
	case "", "ip", "ip4", "ip6":
	default:
		return fmt.Errorf("cacheclient: DNS.Network %q: want ip, ip4 or ip6", d.Network)
	}
	return nil
}

// lookup resolves the name once and returns the distinct addresses. It may
// return addresses together with an error (some SRV records were invalid).
func (d *DNS) lookup(ctx context.Context) ([]string, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := d.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	var addrs []string
	if d.SRV {
		_, recs, err := res.LookupSRV(ctx, "", "", d.Name)
		for _, r := range recs {
			target := strings.TrimSuffix(r.Target, ".")
			if target == "" || r.Port == 0 {
				continue // "." means "no service here"
			}
			addrs = append(addrs, net.JoinHostPort(target, strconv.Itoa(int(r.Port))))
		}
		if err != nil {
			err = fmt.Errorf("cacheclient: DNS SRV lookup %s: %w", d.Name, err)
		}
		return discDedupe(addrs), err
	}
	network := d.Network
	if network == "" {
		network = "ip"
	}
	ips, err := res.LookupIP(ctx, network, d.Name)
	if err != nil {
		return nil, fmt.Errorf("cacheclient: DNS lookup %s: %w", d.Name, err)
	}
	port := strconv.Itoa(d.Port)
	for _, ip := range ips {
		addrs = append(addrs, net.JoinHostPort(ip.String(), port))
	}
	return discDedupe(addrs), nil
}
