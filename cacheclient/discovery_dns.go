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

	"github.com/cachetier/cachetier/ring"
)

// DNS re-resolves Name every Interval (default 10s): A/AAAA records with Port,
// or SRV when SRV is true (target:port). Resolver may be set for tests (a
// *net.Resolver dialing your in-process DNS server).
//
// This is how Kubernetes headless services are discovered: Name
// "cachenode.default.svc.cluster.local" with Port 7000 (A/AAAA, one record
// per ready pod), or SRV with Name "_redis._tcp.cachenode.default.svc.cluster.local".
//
// Placement does not depend on the order in which a process met the nodes:
// the client places each node at its slot, which the node reports itself
// (cachenode --slot auto in a StatefulSet) or, for SRV, which the target's
// hostname names ("cache-3.cachenode.default.svc.cluster.local." is slot 3,
// by [ring.SlotFromHostname]; reported in Membership.Slots). Every process
// that sees the same live nodes then places every key on the same node,
// whenever it started and whatever answers it saw before. A/AAAA answers
// carry no hostname, so nodes that report no slot (stock redis-server)
// need SRV, or [Static] with "addr=slot", or a [SlotFile].
//
// Nodes without any slot are placed in join order, as a fallback the client
// warns about (see [Stats].UnslottedNodes): known addresses keep their
// position, new ones are appended (several at once: sorted), vanished ones
// are removed. Within one process that moves only the keys of the nodes
// that joined or left; across processes, one that started later may order
// nodes differently from an older one and place some keys elsewhere.
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
				update(Membership{Addrs: slices.Clone(next), Slots: discHostSlots(next)})
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

// discHostSlots returns the slots the hostnames of addrs name (their
// StatefulSet ordinal, by ring.SlotFromHostname), or nil when none does. IP
// addresses name none.
func discHostSlots(addrs []string) map[string]int {
	var m map[string]int
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil || net.ParseIP(host) != nil {
			continue
		}
		if n, err := ring.SlotFromHostname(host); err == nil {
			if m == nil {
				m = map[string]int{}
			}
			m[a] = n
		}
	}
	return m
}
