package loadtest

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cachetier/cachetier/cacheclient"
	"github.com/cachetier/cachetier/loader"
)

// DefaultClient builds the client each client process drives by default:
// a cacheclient.Client over the tier that loads misses from the origin
// through loader.HTTP.
func DefaultClient(s ClientSetup) (Client, error) {
	d := &pushDiscovery{addrs: slices.Clone(s.Addrs), changed: make(chan struct{}, 1), first: make(chan struct{})}
	cc := s.Config
	c, err := cacheclient.New(cacheclient.Config{
		Discovery: d,
		Tier: cacheclient.TierConfig{Timeout: cc.L2Timeout, Leases: cacheclient.LeaseConfig{Disabled: cc.DisableLeases},
			Warmup: cacheclient.WarmupConfig{Disabled: cc.DisableWarmup}, Replicas: cc.Replicas},
		L1: cacheclient.L1Config{Bytes: cc.L1Bytes, TTL: cc.L1TTL},
		Origin: cacheclient.OriginConfig{
			LoadTimeout:   cc.LoadTimeout,
			MaxConcurrent: cc.OriginMaxConcurrent,
			Rate:          cc.OriginRPS,
			Burst:         cc.OriginBurst,
		},
		Health:   cacheclient.HealthConfig{Interval: cc.HealthInterval},
		TTL:      cc.TTL,
		StaleTTL: cc.StaleTTL,
	})
	if err != nil {
		return nil, err
	}
	// Start with the whole tier known: wait for the first membership update.
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-d.first:
	case <-t.C:
		_ = c.Close()
		return nil, errors.New("loadtest: cache client did not apply its node list")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	l := &loader.HTTP{Base: s.OriginURL, Client: &http.Client{Transport: tr}}
	return &cacheClient{c: c, d: d, tr: tr, l: l, bl: loader.Parallel(l, 16)}, nil
}

type cacheClient struct {
	c  *cacheclient.Client
	d  *pushDiscovery
	l  loader.Loader
	bl loader.BatchLoader // l for GetMany
	tr *http.Transport
}

func (a *cacheClient) Get(ctx context.Context, key string, dst []byte) ([]byte, Outcome, error) {
	v, info, err := a.c.AppendGet(ctx, dst, key, a.l)
	return v, outcomeOf(info), err
}

// Set implements Writer.
func (a *cacheClient) Set(ctx context.Context, key string, value []byte) error {
	return a.c.Set(ctx, key, value, 0)
}

func (a *cacheClient) IsShed(err error) bool { return errors.Is(err, cacheclient.ErrShed) }

func (a *cacheClient) SetAddrs(addrs []string) error {
	a.d.set(addrs)
	return nil
}

func (a *cacheClient) NodesUp() int {
	up, _ := a.c.Nodes()
	return len(up)
}

func (a *cacheClient) Close() error {
	err := a.c.Close()
	a.tr.CloseIdleConnections()
	return err
}

// pushDiscovery is a cacheclient.Discoverer whose node list the parent
// changes (scale-out) through SetAddrs.
type pushDiscovery struct {
	mu      sync.Mutex // protects addrs
	addrs   []string
	changed chan struct{} // buffer 1: a pending change
	first   chan struct{} // closed once the first list is applied
}

func (d *pushDiscovery) set(addrs []string) {
	d.mu.Lock()
	d.addrs = slices.Clone(addrs)
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

func (d *pushDiscovery) current() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.addrs)
}

// Watch implements cacheclient.Discoverer.
func (d *pushDiscovery) Watch(ctx context.Context, update func(cacheclient.Membership)) error {
	update(cacheclient.Membership{Addrs: d.current()})
	close(d.first)
	for {
		select {
		case <-d.changed:
			update(cacheclient.Membership{Addrs: d.current()})
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// GetMany implements BatchGetter with cacheclient's GetMany, the origin
// read through loader.Parallel over the same loader.HTTP (the origin
// simulator serves one key per request).
func (a *cacheClient) GetMany(ctx context.Context, keys []string) ([][]byte, []Outcome, []error) {
	items := a.c.GetMany(ctx, keys, a.bl)
	vs, outs, errs := make([][]byte, len(items)), make([]Outcome, len(items)), make([]error, len(items))
	for i, it := range items {
		vs[i], outs[i], errs[i] = it.Value, outcomeOf(it.Info), it.Err
	}
	return vs, outs, errs
}

// outcomeOf translates a cacheclient.Info.
func outcomeOf(info cacheclient.Info) Outcome {
	out := Outcome{Stale: info.Stale, Shared: info.Shared}
	switch info.Source {
	case cacheclient.SourceL1:
		out.Source = SourceL1
	case cacheclient.SourceL2:
		out.Source = SourceL2
	case cacheclient.SourceOrigin:
		out.Source = SourceOrigin
	}
	return out
}
