package cacheclient

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// counters are the client's event counts, updated with atomics on the hot
// paths and read by Stats and the Prometheus collector.
type counters struct {
	l1Hits, l1Misses           atomic.Uint64
	l2Hits, l2Misses, l2Errors atomic.Uint64
	originLoads, originErrors  atomic.Uint64
	originBatches              atomic.Uint64
	coalesced, staleServed     atomic.Uint64
	shed, limiterRefused       atomic.Uint64
	negativeHits, refreshes    atomic.Uint64
	backoffSuppressed          atomic.Uint64
	tombstonesFlushed          atomic.Uint64
	leasesWon, leaseWaits      atomic.Uint64
	leaseWaitNs                atomic.Uint64
	leaseTakeovers             atomic.Uint64
	leaseVoided                atomic.Uint64
	leaseFallbacks             atomic.Uint64

	// Coherence (coherence.go).
	invalidations, invalidatedDropped atomic.Uint64
	l1Flushes, channelReconnects      atomic.Uint64
	incoherentHits, incoherentFills   atomic.Uint64
	raceDropped, trackingRefused      atomic.Uint64

	// Placement (placement.go).
	unslottedNodes, slotConflicts atomic.Uint64

	// Warm-up reads (warmup.go).
	warmupHits, warmupMisses atomic.Uint64

	// Replicas and hot keys (replicas.go, hotkeys.go).
	replicaWriteErrors, hotReplicaReads atomic.Uint64
}

// Stats is a snapshot of a client's counters (cumulative since New) and
// gauges, for code that does not use Prometheus.
type Stats struct {
	// L1Hits counts answers from a fresh L1 entry (negative ones excluded).
	L1Hits uint64
	// L1Misses counts lookups that found no fresh L1 entry.
	L1Misses uint64
	// L2Hits counts L2 reads that found a fresh entry, each once: a read
	// that other callers of the key waited for counts once (those callers
	// are counted in Coalesced).
	L2Hits uint64
	// L2Misses counts L2 reads that found nothing usable fresh (absent,
	// expired, stale, or not a cachetier envelope), each once, whether its
	// caller then started the key's load or joined another caller's. A
	// read that other callers of the key waited for (a herd) counts once.
	L2Misses uint64
	// L2Errors counts failed L2 requests (timeouts, network errors, error
	// replies), all nodes together.
	L2Errors uint64
	// OriginLoads counts calls to a loader.
	OriginLoads uint64
	// OriginErrors counts loader calls that failed (loader.ErrNotFound is
	// not a failure).
	OriginErrors uint64
	// OriginBatches counts LoadMany calls made by GetMany (each of the keys
	// in one is also counted in OriginLoads).
	OriginBatches uint64
	// Coalesced counts calls that shared a load with other callers.
	Coalesced uint64
	// StaleServed counts answers that were stale values.
	StaleServed uint64
	// Shed counts calls answered ErrShed.
	Shed uint64
	// LimiterRefused counts origin loads the limiter refused (the caller
	// then got a stale value or ErrShed).
	LimiterRefused uint64
	// NegativeHits counts "not found" answers from a cached negative entry
	// or from the origin.
	NegativeHits uint64
	// Refreshes counts background revalidations started
	// (StaleWhileRevalidate).
	Refreshes uint64
	// BackoffSuppressed counts origin loads not made because the key was in
	// origin error backoff (the caller got a stale value or the last error).
	BackoffSuppressed uint64
	// TombstonesFlushed counts keys deleted from a node because they were
	// deleted or overwritten (Delete, Set) while it was down, or because a
	// write of them to it failed.
	TombstonesFlushed uint64
	// LeasesWon counts tier-wide leases this client took (Tier.Leases):
	// each is an origin load made on behalf of every process, takeovers
	// included.
	LeasesWon uint64
	// LeaseWaits counts fills that waited for another process's lease
	// instead of loading.
	LeaseWaits uint64
	// LeaseWaitTime is the time those fills spent waiting, summed.
	LeaseWaitTime time.Duration
	// LeaseTakeovers counts leases taken after waiting for another
	// process's lease that expired (its holder died or hung) or vanished
	// (the key was deleted): a second load of the key.
	LeaseTakeovers uint64
	// LeaseVoided counts loads whose write-back was refused because the
	// lease was voided meanwhile (the key was written, deleted or expired,
	// or its lease taken over): the newer state in L2 was kept.
	LeaseVoided uint64
	// LeaseFallbacks counts fills that could not use a lease (an L2 error or
	// no live node while taking, waiting or polling) and loaded on their
	// own, as without leases.
	LeaseFallbacks uint64
	// Invalidations counts keys pushed by the nodes' invalidation channels
	// (L1.Coherence).
	Invalidations uint64
	// InvalidatedDropped counts the pushed keys that were in L1 and were
	// dropped from it.
	InvalidatedDropped uint64
	// L1Flushes counts whole-L1 flushes: a channel connected, lost or
	// reconnected, a null invalidation (FLUSHALL), a node marked down or
	// up, a membership change, tracking refused.
	L1Flushes uint64
	// ChannelReconnects counts invalidation channels connected again after
	// a loss (the first connection is not counted).
	ChannelReconnects uint64
	// IncoherentHits counts L1 hits on entries no invalidation channel
	// covers (coherence off, tracking unavailable, channel down when read):
	// reads served without coherence, bounded only by TTL and L1.TTL.
	IncoherentHits uint64
	// IncoherentFills counts entries put in L1 without coherence.
	IncoherentFills uint64
	// RaceDropped counts entries read from L2 that were invalidated (or L1
	// flushed) while the read was in flight, and so not kept in L1.
	RaceDropped uint64
	// TrackingRefused counts pooled connections on which CLIENT TRACKING
	// failed (the node is then incoherent until its channel reconnects).
	TrackingRefused uint64
	// UnslottedNodes counts the nodes placed without a slot (neither
	// reported by the node nor named by discovery), each once: their place
	// in the ring depends on the order this process met them in, so
	// processes may disagree on the owners of some keys. Logged once per
	// node. See "Placement" in docs/client.md.
	UnslottedNodes uint64
	// SlotConflicts counts placement conflicts, each once: two nodes
	// claiming one slot, or a node reporting a slot other than the one its
	// discovery source names. Logged once each.
	SlotConflicts uint64
	// WarmupHits counts misses answered from the key's previous owner after
	// an ownership change (the entry copied to the new owner: no origin
	// load); WarmupMisses counts such reads that found nothing fresh.
	WarmupHits, WarmupMisses uint64
	// ReplicaWriteErrors counts writes to a key's replicas (Tier.Replicas)
	// that failed: each such copy is voided (deleted before this client
	// reads it there, and by the next health round).
	ReplicaWriteErrors uint64
	// HotReplicaReads counts reads of hot keys answered by a replica rather
	// than the key's live owner (Tier.HotKeys).
	HotReplicaReads uint64
	// HotKeys are the keys this client reads most from the tier, most read
	// first (at most 10; Tier.HotKeys).
	HotKeys []HotKey
	// L1Entries and L1Bytes are the current size of L1 (fastcache's count;
	// a big value counts as several entries).
	L1Entries, L1Bytes uint64
	// Nodes has one entry per member node, sorted by address.
	Nodes []NodeStats
}

// NodeStats describes one node.
type NodeStats struct {
	// Addr is the node's host:port.
	Addr string
	// Up is false while the node is marked down (by the health checks, or
	// by the operator in a discovered slot table).
	Up bool
	// Slot is the node's (first) slot in the ring, -1 while it has none (a
	// node that has not answered yet when other nodes have slots).
	Slot int
	// Requests counts L2 requests sent to the node (health PINGs excluded).
	Requests uint64
	// Errors counts failed requests and failed health PINGs.
	Errors uint64
	// MarkedDown counts how many times the node was marked down.
	MarkedDown uint64
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	s := Stats{
		L1Hits:            c.st.l1Hits.Load(),
		L1Misses:          c.st.l1Misses.Load(),
		L2Hits:            c.st.l2Hits.Load(),
		L2Misses:          c.st.l2Misses.Load(),
		L2Errors:          c.st.l2Errors.Load(),
		OriginLoads:       c.st.originLoads.Load(),
		OriginErrors:      c.st.originErrors.Load(),
		OriginBatches:     c.st.originBatches.Load(),
		Coalesced:         c.st.coalesced.Load(),
		StaleServed:       c.st.staleServed.Load(),
		Shed:              c.st.shed.Load(),
		LimiterRefused:    c.st.limiterRefused.Load(),
		NegativeHits:      c.st.negativeHits.Load(),
		Refreshes:         c.st.refreshes.Load(),
		BackoffSuppressed: c.st.backoffSuppressed.Load(),
		TombstonesFlushed: c.st.tombstonesFlushed.Load(),
		LeasesWon:         c.st.leasesWon.Load(),
		LeaseWaits:        c.st.leaseWaits.Load(),
		LeaseWaitTime:     time.Duration(c.st.leaseWaitNs.Load()),
		LeaseTakeovers:    c.st.leaseTakeovers.Load(),
		LeaseVoided:       c.st.leaseVoided.Load(),
		LeaseFallbacks:    c.st.leaseFallbacks.Load(),

		Invalidations:      c.st.invalidations.Load(),
		InvalidatedDropped: c.st.invalidatedDropped.Load(),
		L1Flushes:          c.st.l1Flushes.Load(),
		ChannelReconnects:  c.st.channelReconnects.Load(),
		IncoherentHits:     c.st.incoherentHits.Load(),
		IncoherentFills:    c.st.incoherentFills.Load(),
		RaceDropped:        c.st.raceDropped.Load(),
		TrackingRefused:    c.st.trackingRefused.Load(),
		UnslottedNodes:     c.st.unslottedNodes.Load(),
		SlotConflicts:      c.st.slotConflicts.Load(),
		WarmupHits:         c.st.warmupHits.Load(),
		WarmupMisses:       c.st.warmupMisses.Load(),
		ReplicaWriteErrors: c.st.replicaWriteErrors.Load(),
		HotReplicaReads:    c.st.hotReplicaReads.Load(),
	}
	if c.tier.hot != nil {
		s.HotKeys = c.tier.hot.top(hotStats)
	}
	if c.l1 != nil {
		s.L1Entries, s.L1Bytes = c.l1.stats()
	}
	s.Nodes = c.tier.nodeStats()
	return s
}

// metrics are the histograms the client observes directly.
type metrics struct {
	originLatency prometheus.Histogram
	l2Latency     *prometheus.HistogramVec
	leaseWait     prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		originLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cachetier_client_origin_load_seconds",
			Help:    "Latency of origin loads.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		l2Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cachetier_client_l2_request_seconds",
			Help:    "Latency of L2 requests, per node.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}, []string{"node"}),
		leaseWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cachetier_client_lease_wait_seconds",
			Help:    "Time fills waited for another process's lease.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
}

// Collector returns a Prometheus collector for the client's metrics, for the
// caller to register (prometheus.MustRegister(c.Collector())). Every call
// returns a collector over the same counters; register one. Metric names are
// fixed (cachetier_client_...): to register several clients in one registry,
// give each its own labels with prometheus.WrapRegistererWith.
func (c *Client) Collector() prometheus.Collector { return collector{c} }

type collector struct{ c *Client }

var (
	descL1Hits = prometheus.NewDesc("cachetier_client_l1_hits_total", "Answers from a fresh L1 entry.", nil, nil)
	descL1Miss = prometheus.NewDesc("cachetier_client_l1_misses_total", "Lookups that found no fresh L1 entry.", nil, nil)
	descL2Hits = prometheus.NewDesc("cachetier_client_l2_hits_total", "L2 reads that found a fresh entry.", nil, nil)
	descL2Miss = prometheus.NewDesc("cachetier_client_l2_misses_total", "L2 reads that found nothing fresh.", nil, nil)
	descOrigin = prometheus.NewDesc("cachetier_client_origin_loads_total", "Calls to the origin loader.", nil, nil)
	descOErr   = prometheus.NewDesc("cachetier_client_origin_errors_total", "Origin loads that failed.", nil, nil)
	descOBat   = prometheus.NewDesc("cachetier_client_origin_batches_total", "LoadMany calls made by GetMany.", nil, nil)
	descCoal   = prometheus.NewDesc("cachetier_client_coalesced_total", "Calls that shared a load with other callers.", nil, nil)
	descStale  = prometheus.NewDesc("cachetier_client_stale_served_total", "Answers that were stale values.", nil, nil)
	descShed   = prometheus.NewDesc("cachetier_client_shed_total", "Calls answered ErrShed.", nil, nil)
	descRefuse = prometheus.NewDesc("cachetier_client_origin_refused_total", "Origin loads refused by the limiter.", nil, nil)
	descNeg    = prometheus.NewDesc("cachetier_client_negative_hits_total", "Not-found answers (cached or from the origin).", nil, nil)
	descRefr   = prometheus.NewDesc("cachetier_client_refreshes_total", "Background revalidations started.", nil, nil)
	descBoff   = prometheus.NewDesc("cachetier_client_origin_backoff_total", "Origin loads suppressed because the key was in error backoff.", nil, nil)
	descTomb   = prometheus.NewDesc("cachetier_client_tombstones_flushed_total", "Keys deleted from a returning node because they were deleted or overwritten while it was down.", nil, nil)
	descLWon   = prometheus.NewDesc("cachetier_client_leases_won_total", "Tier-wide leases taken (origin loads made for every process).", nil, nil)
	descLWait  = prometheus.NewDesc("cachetier_client_lease_waits_total", "Fills that waited for another process's lease.", nil, nil)
	descLTake  = prometheus.NewDesc("cachetier_client_lease_takeovers_total", "Expired leases taken over.", nil, nil)
	descLVoid  = prometheus.NewDesc("cachetier_client_lease_voided_total", "Write-backs refused because the lease was voided.", nil, nil)
	descLFall  = prometheus.NewDesc("cachetier_client_lease_fallbacks_total", "Fills that could not use a lease (L2 error) and loaded on their own.", nil, nil)
	descInv    = prometheus.NewDesc("cachetier_client_invalidations_total", "Keys pushed by the nodes' invalidation channels.", nil, nil)
	descInvDr  = prometheus.NewDesc("cachetier_client_invalidation_dropped_total", "Pushed keys that were in L1 and were dropped.", nil, nil)
	descFlush  = prometheus.NewDesc("cachetier_client_l1_flushes_total", "Whole-L1 flushes (channel lost or reconnected, null invalidation, node down/up, membership change).", nil, nil)
	descChRec  = prometheus.NewDesc("cachetier_client_invalidation_channel_reconnects_total", "Invalidation channels connected again after a loss.", nil, nil)
	descIncoh  = prometheus.NewDesc("cachetier_client_l1_incoherent_hits_total", "L1 hits on entries no invalidation channel covers.", nil, nil)
	descIncF   = prometheus.NewDesc("cachetier_client_l1_incoherent_fills_total", "Entries put in L1 without coherence.", nil, nil)
	descRace   = prometheus.NewDesc("cachetier_client_l1_race_dropped_total", "L2 reads invalidated while in flight, not kept in L1.", nil, nil)
	descTRef   = prometheus.NewDesc("cachetier_client_tracking_refused_total", "Pooled connections on which CLIENT TRACKING failed.", nil, nil)
	descUnsl   = prometheus.NewDesc("cachetier_client_unslotted_nodes_total", "Nodes placed without a slot (by order: processes may disagree on placement).", nil, nil)
	descSConf  = prometheus.NewDesc("cachetier_client_slot_conflicts_total", "Placement conflicts: two nodes claiming one slot, or a node's slot differing from discovery's.", nil, nil)
	descWHit   = prometheus.NewDesc("cachetier_client_warmup_hits_total", "Misses answered from the key's previous owner after an ownership change (copied to the new owner).", nil, nil)
	descWMiss  = prometheus.NewDesc("cachetier_client_warmup_misses_total", "Warm-up reads of a key's previous owner that found nothing fresh.", nil, nil)
	descRWErr  = prometheus.NewDesc("cachetier_client_replica_write_errors_total", "Writes to a key's replicas that failed (the copy is voided).", nil, nil)
	descHotRep = prometheus.NewDesc("cachetier_client_hot_replica_reads_total", "Reads of hot keys answered by a replica rather than the key's owner.", nil, nil)
	descHotKey = prometheus.NewDesc("cachetier_client_hot_key_reads", "Estimated L2 reads in the recent window of the client's 10 most-read keys.", []string{"key"}, nil)
	descL1B    = prometheus.NewDesc("cachetier_client_l1_bytes", "Bytes used by L1.", nil, nil)
	descL1E    = prometheus.NewDesc("cachetier_client_l1_entries", "Entries in L1.", nil, nil)
	descUp     = prometheus.NewDesc("cachetier_client_node_up", "1 if the node is up, 0 while marked down.", []string{"node"}, nil)
	descNReq   = prometheus.NewDesc("cachetier_client_l2_requests_total", "L2 requests per node.", []string{"node"}, nil)
	descNErr   = prometheus.NewDesc("cachetier_client_l2_errors_total", "Failed L2 requests and health PINGs per node.", []string{"node"}, nil)
	descNDown  = prometheus.NewDesc("cachetier_client_node_marked_down_total", "Times the node was marked down.", []string{"node"}, nil)
)

// Describe implements prometheus.Collector.
func (k collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descL1Hits, descL1Miss, descL2Hits, descL2Miss, descOrigin, descOErr, descOBat,
		descCoal, descStale, descShed, descRefuse, descNeg, descRefr, descBoff, descTomb, descLWon, descLWait, descLTake, descLVoid, descLFall,
		descInv, descInvDr, descFlush, descChRec, descIncoh, descIncF, descRace, descTRef, descUnsl, descSConf, descWHit, descWMiss, descRWErr, descHotRep, descHotKey, descL1B, descL1E, descUp, descNReq, descNErr, descNDown} {
		ch <- d
	}
	k.c.metrics.originLatency.Describe(ch)
	k.c.metrics.l2Latency.Describe(ch)
	k.c.metrics.leaseWait.Describe(ch)
}

// Collect implements prometheus.Collector.
func (k collector) Collect(ch chan<- prometheus.Metric) {
	s := k.c.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descL1Hits, s.L1Hits)
	counter(descL1Miss, s.L1Misses)
	counter(descL2Hits, s.L2Hits)
	counter(descL2Miss, s.L2Misses)
	counter(descOrigin, s.OriginLoads)
	counter(descOErr, s.OriginErrors)
	counter(descOBat, s.OriginBatches)
	counter(descCoal, s.Coalesced)
	counter(descStale, s.StaleServed)
	counter(descShed, s.Shed)
	counter(descRefuse, s.LimiterRefused)
	counter(descNeg, s.NegativeHits)
	counter(descRefr, s.Refreshes)
	counter(descBoff, s.BackoffSuppressed)
	counter(descTomb, s.TombstonesFlushed)
	counter(descLWon, s.LeasesWon)
	counter(descLWait, s.LeaseWaits)
	counter(descLTake, s.LeaseTakeovers)
	counter(descLVoid, s.LeaseVoided)
	counter(descLFall, s.LeaseFallbacks)
	counter(descInv, s.Invalidations)
	counter(descInvDr, s.InvalidatedDropped)
	counter(descFlush, s.L1Flushes)
	counter(descChRec, s.ChannelReconnects)
	counter(descIncoh, s.IncoherentHits)
	counter(descIncF, s.IncoherentFills)
	counter(descRace, s.RaceDropped)
	counter(descTRef, s.TrackingRefused)
	counter(descUnsl, s.UnslottedNodes)
	counter(descSConf, s.SlotConflicts)
	counter(descWHit, s.WarmupHits)
	counter(descWMiss, s.WarmupMisses)
	counter(descRWErr, s.ReplicaWriteErrors)
	counter(descHotRep, s.HotReplicaReads)
	for _, hk := range s.HotKeys {
		gauge(descHotKey, float64(hk.Reads), hk.Key)
	}
	gauge(descL1B, float64(s.L1Bytes))
	gauge(descL1E, float64(s.L1Entries))
	for _, n := range s.Nodes {
		up := 0.0
		if n.Up {
			up = 1
		}
		gauge(descUp, up, n.Addr)
		counter(descNReq, n.Requests, n.Addr)
		counter(descNErr, n.Errors, n.Addr)
		counter(descNDown, n.MarkedDown, n.Addr)
	}
	k.c.metrics.originLatency.Collect(ch)
	k.c.metrics.l2Latency.Collect(ch)
	k.c.metrics.leaseWait.Collect(ch)
}
