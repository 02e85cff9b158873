package ring

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"
	jump "github.com/dgryski/go-jump"
)

// numKeys is the key count the bars are stated for.
const numKeys = 1_000_000

var (
	hashesOnce sync.Once
	hashes1M   []uint64
)

// keyHashes returns the hashes of 1M random keys ("key:" + 16 hex digits from
// a seeded generator), computed once per test binary.
func keyHashes() []uint64 {
	hashesOnce.Do(func() {
		hashes1M = randomHashes(numKeys, 1)
	})
	return hashes1M
}

func randomHashes(n int, seed uint64) []uint64 {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	hs := make([]uint64, n)
	buf := make([]byte, 0, 32)
	for i := range hs {
		buf = strconv.AppendUint(append(buf[:0], "key:"...), rng.Uint64(), 16)
		hs[i] = hashKeyBytes(buf)
	}
	return hs
}

// place returns the owner slot of every hash.
func place(r *Ring, hs []uint64) []int32 {
	out := make([]int32, len(hs))
	for i, h := range hs {
		out[i] = int32(r.slotOf(h))
	}
	return out
}

func addrs(n int) []string {
	a := make([]string, n)
	for i := range a {
		a[i] = fmt.Sprintf("10.0.%d.%d:7001", i/256, i%256)
	}
	return a
}

// loads counts keys per address.
func loads(r *Ring, slots []int32) map[string]int {
	m := map[string]int{}
	for _, s := range slots {
		m[r.slots[s]]++
	}
	return m
}

// maxOverMean is the max/mean of the counts over the given addresses
// (addresses with no key count as 0).
func maxOverMean(counts map[string]int, over []string) float64 {
	total, mx := 0, 0
	for _, a := range over {
		total += counts[a]
		mx = max(mx, counts[a])
	}
	return float64(mx) / (float64(total) / float64(len(over)))
}

func TestHashKeyHashtag(t *testing.T) {
	tests := []struct{ key, hashed string }{
		{"", ""},
		{"plain", "plain"},
		{"{user1000}.following", "user1000"},
		{"{user1000}.followers", "user1000"},
		{"foo{}{bar}", "foo{}{bar}"}, // empty tag: whole key
		{"foo{{bar}}zap", "{bar"},
		{"foo{bar}{zap}", "bar"},
		{"{a", "{a"}, // unclosed
		{"a}b{", "a}b{"},
		{"x{y}", "y"},
		{"}{", "}{"},
		{"{}", "{}"},
		{"{x}", "x"},
	}
	for _, tt := range tests {
		want := xxhash.Sum64String(tt.hashed)
		if got := HashKey(tt.key); got != want {
			t.Errorf("HashKey(%q) hashes a different part than %q", tt.key, tt.hashed)
		}
		if got := hashKeyBytes([]byte(tt.key)); got != want {
			t.Errorf("hashKeyBytes(%q) hashes a different part than %q", tt.key, tt.hashed)
		}
	}
}

// redisHashTag is Redis's keyHashSlot tag rule (cluster.c) transliterated.
func redisHashTag(key string) string {
	s := 0
	for s < len(key) && key[s] != '{' {
		s++
	}
	if s == len(key) {
		return key
	}
	e := s + 1
	for e < len(key) && key[e] != '}' {
		e++
	}
	if e == len(key) || e == s+1 {
		return key
	}
	return key[s+1 : e]
}

func FuzzHashKey(f *testing.F) {
	for _, s := range []string{"", "a", "{a}b", "{}", "a{b}c{d}", "{{}}", "}{a}", "\x00{\xff}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		want := xxhash.Sum64String(redisHashTag(key))
		if HashKey(key) != want || hashKeyBytes([]byte(key)) != want {
			t.Fatalf("hash of %q differs from the Redis tag rule", key)
		}
		r := New("a", "b", "c")
		o1, _ := r.Owner(key)
		o2, _ := r.OwnerBytes([]byte(key))
		if o1 != o2 {
			t.Fatalf("Owner %q != OwnerBytes %q", o1, o2)
		}
	})
}

func TestEmptyRings(t *testing.T) {
	var nilRing *Ring
	rings := map[string]*Ring{
		"nil":      nilRing,
		"zero":     {},
		"New()":    New(),
		"vacant":   New("-", "", "-"),
		"all down": New("a", "b").WithDown("a").WithDown("b"),
	}
	for name, r := range rings {
		t.Run(name, func(t *testing.T) {
			if a, ok := r.Owner("k"); ok || a != "" {
				t.Errorf("Owner = %q, %v; want \"\", false", a, ok)
			}
			if a, ok := r.OwnerBytes([]byte("k")); ok || a != "" {
				t.Errorf("OwnerBytes = %q, %v; want \"\", false", a, ok)
			}
			if got := r.Owners("k", 3, []string{"x"}); !slices.Equal(got, []string{"x"}) {
				t.Errorf("Owners = %q; want dst unchanged", got)
			}
			if r.Live() != 0 {
				t.Errorf("Live = %d", r.Live())
			}
			p, err := Parse(r.String())
			if err != nil || !p.Equal(r) {
				t.Errorf("Parse(%q) = %v, %v; want an equal ring", r.String(), p, err)
			}
		})
	}
	// Changes to nil and empty rings work.
	if g := nilRing.Join("a", 1); g.String() != "a" {
		t.Errorf("nil.Join = %q", g)
	}
	if nilRing.Leave("a") != nil || nilRing.WithDown("a") != nil || nilRing.Replace("a", "b") != nil {
		t.Error("no-op changes of a nil ring should return nil")
	}
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		r    *Ring
		want string
	}{
		{New("a", "b", "c"), "a,b,c"},
		{New("a", "-", "", "b"), "a,-*2,b"},
		{New("a", "b", "a"), "a,b,a"},
		{NewWeighted(Node{"a", 2}, Node{"b", 0}, Node{"c", 3}), "a*2,b,c*3"},
		{NewWeighted(Node{Addr: "a"}, Node{Addr: "-", Weight: 2}), "a,-*2"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	if got := NewWeighted(Node{"a", 1 << 40}).Len(); got != MaxSlots {
		t.Errorf("huge weight: Len = %d, want MaxSlots", got)
	}
	for _, list := range [][]string{{"a"}, {"a", "b", "a", "-", "c"}, addrs(300)} {
		if p := mustParse(t, strings.Join(list, ",")); !p.Equal(New(list...)) {
			t.Errorf("New(%q) differs from Parse of the joined list", list)
		}
	}
	r := New("a", "b", "a", "c")
	if got := r.Nodes(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Nodes = %q", got)
	}
	if r.Len() != 4 || r.Live() != 3 || !r.Has("a") || r.Has("d") || r.Has("") {
		t.Errorf("Len/Live/Has wrong for %v", r)
	}
	// Callers own returned slices.
	r.Nodes()[0] = "zzz"
	r.Slots()[0] = "zzz"
	if r.String() != "a,b,a,c" {
		t.Errorf("ring changed through a returned slice: %v", r)
	}
}

func TestChanges(t *testing.T) {
	base := mustParse(t, "a,b,-,c,d")
	tests := []struct {
		name string
		r    *Ring
		want string
	}{
		{"down", base.WithDown("b"), "a,b,-,c,d down=b"},
		{"down twice", base.WithDown("b").WithDown("b"), "a,b,-,c,d down=b"},
		{"down unknown", base.WithDown("x"), "a,b,-,c,d"},
		{"up", base.WithDown("b").WithDown("d").WithUp("b"), "a,b,-,c,d down=d"},
		{"join fills vacancy", base.Join("e", 1), "a,b,e,c,d"},
		{"join weight 3", base.Join("e", 3), "a,b,e,c,d,e*2"},
		{"join weight 0", base.Join("e", 0), "a,b,e,c,d"},
		{"join existing is a no-op", base.WithDown("a").Join("a", 2), "a,b,-,c,d down=a"},
		{"join empty", base.Join("", 1), "a,b,-,c,d"},
		{"leave last", base.Leave("d"), "a,b,-,c"},
		{"leave last keeps vacancy before it", base.Leave("d").Leave("c"), "a,b,-"},
		{"leave middle", base.Leave("b"), "a,-*2,c,d"},
		{"leave down last tombstones", base.WithDown("d").Leave("d"), "a,b,-,c,-"},
		{"leave weighted", mustParse(t, "a,b,a,b*2").Leave("b"), "a,-,a"},
		{"leave unknown", base.Leave("x"), "a,b,-,c,d"},
		{"replace", base.WithDown("b").Replace("b", "b2"), "a,b2,-,c,d"},
		{"replace keeps other downs", base.WithDown("b").WithDown("c").Replace("b", "b2"), "a,b2,-,c,d down=c"},
		{"replace into existing", base.Replace("a", "c"), "c,b,-,c,d"},
		{"replace unknown", base.Replace("x", "y"), "a,b,-,c,d"},
		{"replace with -", base.Replace("a", "-"), "a,b,-,c,d"},
		{"nodes same", base.WithNodes("d", "c", "b", "a"), "a,b,-,c,d"},
		{"nodes add", base.WithNodes("a", "b", "c", "d", "e", "f"), "a,b,e,c,d,f"},
		{"nodes drop tail", base.WithNodes("a", "b"), "a,b,-"},
		{"nodes drop middle", base.WithNodes("a", "c", "d"), "a,-*2,c,d"},
		{"nodes swap", base.WithDown("c").WithNodes("a", "b", "c", "x"), "a,b,x,c down=c"},
		{"nodes drop down tail", base.WithDown("d").WithNodes("a", "b", "c"), "a,b,-,c,-"},
		{"nodes drop all", base.WithNodes(), "-*3"},
		{"nodes ignores junk", base.WithNodes("a", "", "-", "a", "b", "c", "d"), "a,b,-,c,d"},
		{"nodes from nil", (*Ring)(nil).WithNodes("a", "b"), "a,b"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	if base.WithDown("x") != base || base.WithUp("a") != base || base.Join("a", 1) != base ||
		base.Leave("x") != base || base.Replace("x", "y") != base || base.WithNodes("b", "a", "d", "c") != base {
		t.Error("no-op changes should return the receiver")
	}
	if base.String() != "a,b,-,c,d" {
		t.Errorf("base ring changed: %v", base)
	}
	j := New("a").Join("b", MaxSlots)
	if j.Len() != MaxSlots {
		t.Errorf("join past MaxSlots: Len = %d", j.Len())
	}
}

func mustParse(t testing.TB, s string) *Ring {
	t.Helper()
	r, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return r
}

// TestScaleOut: N → N+1 moves ~1/(N+1) of the keys (within 2% relative),
// all of them to the new node.
func TestScaleOut(t *testing.T) {
	hs := keyHashes()
	for _, n := range []int{4, 10, 100} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			r := New(addrs(n)...)
			g := r.Join("new:7001", 1)
			before, after := place(r, hs), place(g, hs)
			moved, wrong := 0, 0
			for i := range hs {
				if r.slots[before[i]] != g.slots[after[i]] {
					moved++
					if g.slots[after[i]] != "new:7001" {
						wrong++
					}
				}
			}
			frac, ideal := float64(moved)/float64(len(hs)), 1/float64(n+1)
			rel := (frac - ideal) / ideal
			t.Logf("N=%d→%d: moved %.5f of keys, ideal %.5f, relative error %+.2f%%", n, n+1, frac, ideal, 100*rel)
			if rel > 0.02 || rel < -0.02 {
				t.Errorf("moved fraction %.5f not within 2%% of %.5f", frac, ideal)
			}
			if wrong > 0 {
				t.Errorf("%d keys moved to an old node", wrong)
			}
		})
	}
}

// TestScaleOutFillsVacancy: a node that joins a ring with a vacant slot takes
// that slot's keys and nothing else.
func TestScaleOutFillsVacancy(t *testing.T) {
	hs := keyHashes()
	r := New(addrs(10)...).Leave(addrs(10)[3])
	g := r.Join("new:7001", 1)
	if g.Len() != 10 || g.slots[3] != "new:7001" {
		t.Fatalf("join did not fill the vacancy: %v", g)
	}
	before, after := place(r, hs), place(g, hs)
	moved := 0
	for i := range hs {
		if r.slots[before[i]] != g.slots[after[i]] {
			moved++
			if after[i] != 3 {
				t.Fatalf("key moved to slot %d, not the new node's", after[i])
			}
		}
	}
	frac := float64(moved) / float64(len(hs))
	t.Logf("join into vacancy at N=10: moved %.5f (ideal 0.1)", frac)
	if frac < 0.098 || frac > 0.102 {
		t.Errorf("moved fraction %.5f not within 2%% of 0.1", frac)
	}
}

// TestNodeFailure: at N=10, a dead middle node's keys (and only those) move,
// spread evenly; two failures in either order agree; recovery restores.
func TestNodeFailure(t *testing.T) {
	hs := keyHashes()
	as := addrs(10)
	r := New(as...)
	base := place(r, hs)
	d := r.WithDown(as[4])
	failed := place(d, hs)

	movedTo := map[string]int{}
	for i := range hs {
		switch {
		case base[i] == 4:
			if failed[i] == 4 || d.dead[failed[i]] {
				t.Fatalf("key of the dead node placed on dead slot %d", failed[i])
			}
			movedTo[r.slots[failed[i]]]++
		case failed[i] != base[i]:
			t.Fatalf("key of live slot %d moved to %d", base[i], failed[i])
		}
	}
	survivors := slices.Delete(slices.Clone(as), 4, 5)
	spread := maxOverMean(movedTo, survivors)
	t.Logf("dead node's %d keys spread over 9 survivors: max/mean %.4f", loads(r, base)[as[4]], spread)
	if spread > 1.05 {
		t.Errorf("moved keys spread max/mean %.4f > 1.05", spread)
	}
	if got := maxOverMean(loads(d, failed), survivors); got > 1.02 {
		t.Errorf("survivor load max/mean %.4f > 1.02", got)
	}

	ab := place(r.WithDown(as[4]).WithDown(as[7]), hs)
	ba := place(r.WithDown(as[7]).WithDown(as[4]), hs)
	if !slices.Equal(ab, ba) {
		t.Error("two failures in different orders place keys differently")
	}
	for i := range hs {
		if base[i] != 4 && base[i] != 7 && ab[i] != base[i] {
			t.Fatal("second failure moved a key of a live node")
		}
	}
	if !slices.Equal(place(d.WithUp(as[4]), hs), base) {
		t.Error("bringing the node back did not restore the placement")
	}
	if !slices.Equal(place(r.WithDown(as[4]).WithDown(as[7]).WithUp(as[4]), hs), place(r.WithDown(as[7]), hs)) {
		t.Error("recovery of one of two dead nodes did not give the one-failure placement")
	}
}

// TestBalance: max/mean ≤ 1.02 at 10 nodes; weights are honoured.
func TestBalance(t *testing.T) {
	hs := keyHashes()
	r := New(addrs(10)...)
	got := maxOverMean(loads(r, place(r, hs)), r.addrs)
	t.Logf("N=10, 1M keys: max/mean %.4f", got)
	if got > 1.02 {
		t.Errorf("max/mean %.4f > 1.02", got)
	}

	w := NewWeighted(Node{"a", 1}, Node{"b", 2}, Node{"c", 1}, Node{"d", 4})
	l := loads(w, place(w, hs))
	unit := float64(len(hs)) / 8
	for addr, weight := range map[string]float64{"a": 1, "b": 2, "c": 1, "d": 4} {
		if ratio := float64(l[addr]) / (unit * weight); ratio < 0.98 || ratio > 1.02 {
			t.Errorf("weighted node %s got %.4f of its share", addr, ratio)
		}
	}
}

// TestReplace: the replacement owns exactly the keys the old node owned.
func TestReplace(t *testing.T) {
	hs := keyHashes()[:200_000]
	as := addrs(10)
	r := New(as...)
	base := place(r, hs)
	for _, dead := range []bool{false, true} {
		old := r
		if dead {
			old = r.WithDown(as[6])
		}
		g := old.Replace(as[6], "fresh:7001")
		after := place(g, hs)
		for i := range hs {
			want := r.slots[base[i]]
			if want == as[6] {
				want = "fresh:7001"
			}
			if g.slots[after[i]] != want {
				t.Fatalf("down=%v: key on %s, want %s", dead, g.slots[after[i]], want)
			}
		}
	}
}

// TestLeave: scale-in moves only the leaving node's keys, and leaving after
// being down moves nothing.
func TestLeave(t *testing.T) {
	hs := keyHashes()
	as := addrs(10)
	for _, tc := range []struct {
		name  string
		r     *Ring
		leave string
	}{
		{"last", New(as...), as[9]},
		{"middle", New(as...), as[2]},
		{"last with others down", New(as...).WithDown(as[1]).WithDown(as[5]), as[9]},
		{"weighted last", NewWeighted(Node{as[0], 1}, Node{as[1], 3}, Node{as[2], 1}, Node{as[3], 2}), as[3]},
		{"weighted middle", NewWeighted(Node{as[0], 1}, Node{as[1], 3}, Node{as[2], 1}, Node{as[3], 2}), as[1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := place(tc.r, hs)
			g := tc.r.Leave(tc.leave)
			if g.Has(tc.leave) {
				t.Fatalf("%s still in %v", tc.leave, g)
			}
			after := place(g, hs)
			movedTo := map[string]int{}
			for i := range hs {
				was, is := tc.r.slots[before[i]], g.slots[after[i]]
				if was != tc.leave && was != is {
					t.Fatalf("key of %s moved to %s", was, is)
				}
				if was == tc.leave {
					movedTo[is]++
				}
			}
			if strings.Contains(tc.name, "weighted") {
				return // spread is by weight, checked in TestBalance
			}
			spread := maxOverMean(movedTo, liveAddrs(g))
			t.Logf("%s: left node's keys spread over the live nodes with max/mean %.4f", tc.name, spread)
			if spread > 1.05 {
				t.Errorf("spread max/mean %.4f > 1.05", spread)
			}
		})
	}

	// A node that is down and then leaves: its keys already moved and stay.
	r := New(as...).WithDown(as[9])
	before := place(r, hs)
	g := r.Leave(as[9])
	if !slices.Equal(place(g, hs), before) {
		t.Error("a down node leaving moved keys")
	}
}

func liveAddrs(r *Ring) []string {
	var out []string
	for _, a := range r.addrs {
		if !r.IsDown(a) {
			out = append(out, a)
		}
	}
	return out
}

// TestFallback drives keys through the rendezvous fallback (nearly every
// slot dead) and checks it keeps the placement properties.
func TestFallback(t *testing.T) {
	hs := keyHashes()[:20_000]
	as := addrs(200)
	r := New(as...)
	for _, a := range as[:197] {
		r = r.WithDown(a)
	}
	fell := 0
	for _, h := range hs {
		if usesFallback(r, h) {
			fell++
		}
	}
	if fell == 0 {
		t.Fatal("no key used the rendezvous fallback")
	}
	l := loads(r, place(r, hs))
	t.Logf("3 live of 200 slots: %d of %d keys used the fallback; loads %v", fell, len(hs), l)
	for _, a := range as[197:] {
		if frac := float64(l[a]) / float64(len(hs)); frac < 0.3 || frac > 0.37 {
			t.Errorf("%s got %.3f of the keys, want ~1/3", a, frac)
		}
	}
	// Killing one of the three moves only its keys; the others split them.
	d := r.WithDown(as[198])
	before, after := place(r, hs), place(d, hs)
	for i := range hs {
		if before[i] != 198 && after[i] != before[i] {
			t.Fatal("fallback: a live node's key moved")
		}
	}
	for _, h := range hs[:2000] {
		checkOwners(t, r, h)
	}
}

// usesFallback reports whether every jump candidate of h is dead.
func usesFallback(r *Ring, h uint64) bool {
	n := len(r.slots)
	if !r.dead[jump.Hash(h, n)] {
		return false
	}
	s := h
	for range maxTries {
		s += golden
		if !r.dead[jump.Hash(mix(s), n)] {
			return false
		}
	}
	return true
}

// refSequence is the probe sequence of h written plainly: the jump candidates,
// then every slot by descending rendezvous score.
func refSequence(n int, h uint64) []int {
	if n == 0 {
		return nil
	}
	seq := []int{int(jump.Hash(h, n))}
	s := h
	for range maxTries {
		s += golden
		seq = append(seq, int(jump.Hash(mix(s), n)))
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	slices.SortFunc(all, func(a, b int) int {
		sa, sb := score(h, int32(a)), score(h, int32(b))
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return a - b
	})
	return append(seq, all...)
}

// refOwners is Owners computed from the reference sequence and the ring's
// slot table and down set only.
func refOwners(r *Ring, h uint64, n int) []string {
	var out []string
	for _, b := range refSequence(len(r.slots), h) {
		a := r.slots[b]
		if len(out) < n && a != "" && !r.IsDown(a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// checkOwners checks Owner and Owners for h against the reference and the
// failover property.
func checkOwners(t *testing.T, r *Ring, h uint64) {
	t.Helper()
	owner, ok := r.OwnerHash(h)
	if ok != (r.Live() > 0) {
		t.Fatalf("%v: Owner ok=%v with %d live nodes", r, ok, r.Live())
	}
	const n = 4
	got := r.OwnersHash(h, n, nil)
	want := refOwners(r, h, n)
	if !slices.Equal(got, want) {
		t.Fatalf("%v: Owners(%#x) = %q, reference %q", r, h, got, want)
	}
	if len(got) != min(n, r.Live()) {
		t.Fatalf("%v: Owners returned %d, want %d", r, len(got), min(n, r.Live()))
	}
	if ok && got[0] != owner {
		t.Fatalf("%v: Owners[0] = %q, Owner = %q", r, got[0], owner)
	}
}

// op is one membership change in a random history.
type op struct {
	kind   byte // 'D'own, 'U'p, 'J'oin, 'L'eave, 'R'eplace, 'S'et (WithNodes)
	addr   string
	other  string // Replace target
	weight int
	set    []string // WithNodes argument
}

func (o op) String() string {
	return fmt.Sprintf("%c %s %s %d %q", o.kind, o.addr, o.other, o.weight, o.set)
}

func (o op) apply(r *Ring) *Ring {
	switch o.kind {
	case 'D':
		return r.WithDown(o.addr)
	case 'U':
		return r.WithUp(o.addr)
	case 'J':
		return r.Join(o.addr, o.weight)
	case 'L':
		return r.Leave(o.addr)
	case 'S':
		return r.WithNodes(o.set...)
	default:
		return r.Replace(o.addr, o.other)
	}
}

// checkStep checks the movement rule of one change over the hashes and the
// invariants of the resulting ring.
func checkStep(t *testing.T, before *Ring, o op, hs []uint64) *Ring {
	t.Helper()
	after := o.apply(before)
	mustLive := before.Live() > 0 && after.Live() > 0
	for _, h := range hs {
		a, aok := after.OwnerHash(h)
		if aok && (a == "" || after.IsDown(a) || !after.Has(a)) {
			t.Fatalf("%v: owner %q is not a live node", after, a)
		}
		if !mustLive {
			continue
		}
		b, _ := before.OwnerHash(h)
		if a == b {
			continue
		}
		switch o.kind {
		case 'D', 'L':
			if b != o.addr {
				t.Fatalf("%v → %v by %v: key moved from %s to %s", before, after, o, b, a)
			}
		case 'U', 'J':
			if a != o.addr {
				t.Fatalf("%v → %v by %v: key moved from %s to %s", before, after, o, b, a)
			}
		case 'S':
			if slices.Contains(o.set, b) && before.Has(a) {
				t.Fatalf("%v → %v by %v: key moved from %s to %s", before, after, o, b, a)
			}
		case 'R':
			// A live node's keys go to its replacement; a down node's
			// replacement takes back the keys that failed over.
			if a != o.other || (b != o.addr && !before.IsDown(o.addr)) {
				t.Fatalf("%v → %v by %v: key moved from %s to %s", before, after, o, b, a)
			}
		}
	}
	for _, h := range hs[:min(len(hs), 32)] {
		checkOwners(t, after, h)
	}
	// Failover agrees with Owners: the second owner takes over.
	for _, h := range hs[:min(len(hs), 16)] {
		if owners := after.OwnersHash(h, 2, nil); len(owners) == 2 {
			if next, _ := after.WithDown(owners[0]).OwnerHash(h); next != owners[1] {
				t.Fatalf("%v: Owners %q but failover goes to %q", after, owners, next)
			}
		}
	}
	p, err := Parse(after.String())
	if err != nil || !p.Equal(after) {
		t.Fatalf("Parse(%q) = %v, %v", after.String(), p, err)
	}
	// Placement depends only on the slot table and the down set, not on the
	// history or the order of failures.
	fresh := New(after.Slots()...)
	down := after.Down()
	rand.Shuffle(len(down), func(i, j int) { down[i], down[j] = down[j], down[i] })
	for _, a := range down {
		fresh = fresh.WithDown(a)
	}
	for _, h := range hs {
		x, _ := after.OwnerHash(h)
		y, _ := fresh.OwnerHash(h)
		if x != y {
			t.Fatalf("%v: rebuilt ring places a key on %s, history on %s", after, y, x)
		}
	}
	return after
}

// randomOp picks a change for r; heavy tilts towards failures so that
// histories reach rings that are mostly dead.
func randomOp(rng *rand.Rand, r *Ring, next *int, heavy bool) op {
	nodes := r.Nodes()
	pick := func(list []string) string {
		if len(list) == 0 {
			return "unknown:1"
		}
		return list[rng.IntN(len(list))]
	}
	fresh := func() string { *next++; return "n" + strconv.Itoa(*next) + ":7001" }
	x := rng.IntN(11)
	switch {
	case x == 10:
		// Keep a random subset, add up to two fresh nodes, shuffle.
		var set []string
		for _, a := range nodes {
			if rng.IntN(4) > 0 {
				set = append(set, a)
			}
		}
		for range rng.IntN(3) {
			set = append(set, fresh())
		}
		rng.Shuffle(len(set), func(i, j int) { set[i], set[j] = set[j], set[i] })
		return op{kind: 'S', set: set}
	case x < 3 || heavy && x < 7:
		return op{kind: 'D', addr: pick(nodes)}
	case x < 5:
		return op{kind: 'U', addr: pick(r.Down())}
	case x < 7:
		return op{kind: 'J', addr: fresh(), weight: 1 + rng.IntN(3)}
	case x < 9:
		return op{kind: 'L', addr: pick(nodes)}
	default:
		return op{kind: 'R', addr: pick(nodes), other: fresh()}
	}
}

// TestRandomHistories applies random membership histories and checks the
// movement rule of every step and the invariants of every ring.
func TestRandomHistories(t *testing.T) {
	hs := randomHashes(400, 2)
	rng := rand.New(rand.NewPCG(3, 3))
	histories, steps := 100, 25
	if testing.Short() {
		histories = 30
	}
	for range histories {
		next := 0
		r := New(addrs(1 + rng.IntN(30))...)
		heavy := rng.IntN(3) == 0
		for range steps {
			r = checkStep(t, r, randomOp(rng, r, &next, heavy), hs)
		}
	}
}

// FuzzHistory runs a membership history decoded from the fuzzer's bytes.
func FuzzHistory(f *testing.F) {
	f.Add([]byte{5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{1, 0, 0, 0})
	f.Add([]byte{30, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120})
	f.Add([]byte{8, 9, 19, 29, 39, 49, 59, 69, 79, 89, 99, 13, 23, 33})
	hs := randomHashes(200, 4)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 64 {
			return
		}
		r := New(addrs(int(data[0] % 40))...)
		next := 0
		for _, b := range data[1:] {
			nodes := r.Nodes()
			target := "unknown:1"
			if len(nodes) > 0 {
				target = nodes[int(b>>3)%len(nodes)]
			}
			var o op
			switch b % 9 {
			case 8:
				// Drop target, add a fresh node.
				next++
				set := slices.DeleteFunc(nodes, func(a string) bool { return a == target })
				o = op{kind: 'S', set: append(set, "n"+strconv.Itoa(next))}
			case 0, 1, 2:
				o = op{kind: 'D', addr: target}
			case 3:
				o = op{kind: 'U', addr: target}
			case 4, 5:
				next++
				o = op{kind: 'J', addr: "n" + strconv.Itoa(next), weight: int(b>>6) + 1}
			case 6:
				o = op{kind: 'L', addr: target}
			case 7:
				next++
				o = op{kind: 'R', addr: target, other: "n" + strconv.Itoa(next)}
			}
			r = checkStep(t, r, o, hs)
		}
	})
}

func TestParse(t *testing.T) {
	good := []struct{ in, want string }{
		{"", ""},
		{"   \n\t", ""},
		{"a:7001", "a:7001"},
		{"a,b,c", "a,b,c"},
		{" a , b ,c ", "a,b,c"},
		{"a,b*1,b", "a,b*2"},
		{"-,-*2,a", "-*3,a"},
		{"[::1]:7001,[::1]:7002*3", "[::1]:7001,[::1]:7002*3"},
		{"a\nb,\nc\n", "a,b,c"},
		{"# tier\na # first\nb,c # rest\n", "a,b,c"},
		{"a,b down=b", "a,b down=b"},
		{"a,b,c down=c,a", "a,b,c down=a,c"},
		{"a,b,c\ndown=c a", "a,b,c down=a,c"},
		{"down=", ""},
		{"a,b down=", "a,b"},
		{"a,b down=b,b", "a,b down=b"},
		{"unix:/tmp/c.sock,b", "unix:/tmp/c.sock,b"},
		{"a=0,b=1,d=3", "a,b,-,d"},
		{"a,b*2=3,c", "a,-*2,b*2,c"},
		{"-=2,a", "-*3,a"},
		{"[::1]:7001=1 down=[::1]:7001", "-,[::1]:7001 down=[::1]:7001"},
	}
	for _, tt := range good {
		r, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if r.String() != tt.want {
			t.Errorf("Parse(%q) = %q, want %q", tt.in, r.String(), tt.want)
		}
	}
	bad := []struct{ in, why string }{
		{"a,,b", "empty slot entry"},
		{",a", "empty slot entry"},
		{"a,b*0", "slot count"},
		{"a,b*-1", "slot count"},
		{"a,b*x", "slot count"},
		{"a*70000", "slot count"},
		{"a*65536,b", "more than 65536 slots"},
		{"a b", `contains ' '`},
		{"a=b", "slot must be"},
		{"a=1=2", "slot must be"},
		{"a,b=0", "already placed"},
		{"a=07", "slot must be"},
		{"a,b down=c", "owns no slot"},
		{"a,b down=-", "down address"},
		{"a,b*2*3", "slot count"},
		{"*2", "empty address"},
		{"a\x00b", `contains '\x00'`},
		{strings.Repeat("x", 2000), "longer than"},
	}
	for _, tt := range bad {
		r, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", tt.in, r)
			continue
		}
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("Parse(%q) error %q, want ErrSyntax mentioning %q", tt.in, err, tt.why)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "a", "a,b,c", "a*2,-,b down=b", "a,,b", "-*3", "a\n# c\nb", "down=a", "a down=a",
		"a*65536", "[::1]:1,[::1]:2*2", "a*b", "a,b\tdown=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error does not wrap ErrSyntax: %v", err)
			}
			return
		}
		text := r.String()
		p, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(String()) of %q: %q: %v", s, text, err)
		}
		if !p.Equal(r) || p.String() != text {
			t.Fatalf("round trip of %q: %q became %q", s, text, p.String())
		}
		for _, k := range []string{"a", "b", "key:1"} {
			x, xok := r.Owner(k)
			y, yok := p.Owner(k)
			if x != y || xok != yok {
				t.Fatalf("round trip of %q moved %q", s, k)
			}
		}
	})
}

func TestLookupAllocs(t *testing.T) {
	r := New(addrs(100)...)
	for _, a := range addrs(100)[:10] {
		r = r.WithDown(a)
	}
	key, bkey := "user:1234", []byte("user:1234")
	dst := make([]string, 0, 4)
	for name, fn := range map[string]func(){
		"Owner":      func() { r.Owner(key) },
		"OwnerBytes": func() { r.OwnerBytes(bkey) },
		"Owners":     func() { dst = r.Owners(key, 3, dst[:0]) },
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocs per lookup, want 0", name, n)
		}
	}
}

func TestConcurrentLookups(t *testing.T) {
	r := New(addrs(20)...).WithDown(addrs(20)[3])
	hs := randomHashes(2000, 5)
	want := place(r, hs)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i, h := range hs {
				if a, _ := r.OwnerHash(h); a != r.slots[want[i]] {
					t.Errorf("concurrent lookup disagrees")
					return
				}
				_ = r.OwnersHash(h, 3, nil)
			}
		})
	}
	wg.Wait()
}

// TestOwnersAll asks for every live node, which runs the long-list
// rendezvous path, and checks it against the reference sequence.
func TestOwnersAll(t *testing.T) {
	as := addrs(300)
	nodes := make([]Node, len(as))
	for i, a := range as {
		nodes[i] = Node{a, 1 + i%3}
	}
	r := NewWeighted(nodes...)
	for i := 0; i < len(as); i += 7 {
		r = r.WithDown(as[i])
	}
	for _, h := range randomHashes(20, 6) {
		got := r.OwnersHash(h, 1000, []string{"x"})
		want := append([]string{"x"}, refOwners(r, h, 1000)...)
		if !slices.Equal(got, want) || len(got) != r.Live()+1 {
			t.Fatalf("Owners(all) = %d owners, differs from the reference (%d)", len(got)-1, len(want)-1)
		}
		for _, n := range []int{5, 6, 40} {
			if got := r.OwnersHash(h, n, nil); !slices.Equal(got, want[1:n+1]) {
				t.Fatalf("Owners(%d) is not a prefix of Owners(all)", n)
			}
		}
	}
}
