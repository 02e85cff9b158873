package ring

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// owners returns the owner of each hash in r.
func owners(r *Ring, hs []uint64) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i], _ = r.OwnerHash(h)
	}
	return out
}

// sameOwners fails t at the first hash two rings place differently.
func sameOwners(t *testing.T, what string, a, b *Ring, hs []uint64) {
	t.Helper()
	for _, h := range hs {
		x, _ := a.OwnerHash(h)
		y, _ := b.OwnerHash(h)
		if x != y {
			t.Fatalf("%s: hash %x placed on %s by %v and on %s by %v", what, h, x, a, y, b)
		}
	}
}

func claimsOf(as []string, slots ...int) []Claim {
	c := make([]Claim, len(as))
	for i, a := range as {
		c[i] = Claim{Addr: a, Slot: slots[i]}
	}
	return c
}

func TestFromClaimsOrderFree(t *testing.T) {
	hs := randomHashes(50_000, 7)
	as := addrs(8)
	claims := claimsOf(as, 0, 1, 2, 3, 5, 6, 8, 9) // holes at 4 and 7
	want, lost := FromClaims(claims...)
	if len(lost) != 0 {
		t.Fatalf("lost = %v", lost)
	}
	if got := want.String(); got != strings.Join([]string{as[0], as[1], as[2], as[3], "-", as[4], as[5], "-", as[6], as[7]}, ",") {
		t.Fatalf("table = %s", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		c := append([]Claim(nil), claims...)
		rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
		r, _ := FromClaims(c...)
		if !r.Equal(want) {
			t.Fatalf("FromClaims(%v) = %v, want %v", c, r, want)
		}
	}
	// Down or absent: a ring that marks a node down and one that never
	// heard of it place every key alike, the node being the last slot or
	// in the middle.
	for _, gone := range []int{7, 3, 0} {
		var without []Claim
		for i, c := range claims {
			if i != gone {
				without = append(without, c)
			}
		}
		absent, _ := FromClaims(without...)
		down := want.WithDown(as[gone])
		sameOwners(t, "down vs absent "+as[gone], down, absent, hs)
		// Leaving moves only its keys; coming back (want again) takes
		// back exactly those.
		before, after := owners(want, hs), owners(absent, hs)
		for i := range hs {
			if (before[i] != after[i]) != (before[i] == as[gone]) {
				t.Fatalf("without %s: key %d moved %s -> %s", as[gone], i, before[i], after[i])
			}
		}
	}
	// Two trailing nodes down vs absent.
	absent, _ := FromClaims(claims[:6]...)
	sameOwners(t, "two trailing down vs absent", want.WithDown(as[6]).WithDown(as[7]), absent, hs)
}

func TestFromClaimsConflictsAndFree(t *testing.T) {
	r, lost := FromClaims(
		Claim{"b", 1}, Claim{"a", 1}, Claim{"free1", -1}, Claim{"c", 3}, Claim{"free2", -1}, Claim{"b", 0}, Claim{"", 2}, Claim{"x", MaxSlots},
	)
	if len(lost) != 1 || lost[0].Addr != "b" || lost[0].Slot != 1 {
		t.Fatalf("lost = %v, want b's claim of slot 1", lost)
	}
	// a keeps 1; free1, free2, x fill 0 and 2, then are appended; b (lost)
	// comes after them.
	if got, want := r.String(), "free1,a,free2,c,x,b"; got != want {
		t.Fatalf("table = %s, want %s", got, want)
	}
	if r.SlotOf("c") != 3 || r.SlotOf("nobody") != -1 {
		t.Fatalf("SlotOf: c %d, nobody %d", r.SlotOf("c"), r.SlotOf("nobody"))
	}
	if e, _ := FromClaims(); e.Len() != 0 {
		t.Fatalf("FromClaims() has %d slots", e.Len())
	}
}

// TestFromClaimsScaleOut: adding slot n to n slots moves about 1/(n+1) of
// the keys, all of them to the new node; removing it moves exactly those
// back.
func TestFromClaimsScaleOut(t *testing.T) {
	hs := randomHashes(200_000, 9)
	as := addrs(17)
	for _, n := range []int{1, 3, 8, 16} {
		var c []Claim
		for i := range n {
			c = append(c, Claim{as[i], i})
		}
		before, _ := FromClaims(c...)
		after, _ := FromClaims(append(c, Claim{as[n], n})...)
		ob, oa := owners(before, hs), owners(after, hs)
		moved := 0
		for i := range hs {
			if ob[i] != oa[i] {
				moved++
				if oa[i] != as[n] {
					t.Fatalf("n=%d: key moved %s -> %s, not to the new node", n, ob[i], oa[i])
				}
			}
		}
		frac, want := float64(moved)/float64(len(hs)), 1/float64(n+1)
		// Binomial spread: 5 standard deviations.
		if tol := 5 * math.Sqrt(want*(1-want)/float64(len(hs))); math.Abs(frac-want) > tol {
			t.Errorf("n=%d -> %d: moved %.4f of the keys, want %.4f ± %.4f", n, n+1, frac, want, tol)
		}
	}
}

func TestFromClaimsDerivedKeepTrim(t *testing.T) {
	r, _ := FromClaims(Claim{"a", 0}, Claim{"b", 1}, Claim{"c", 2})
	d := r.WithDown("c")
	if !d.trimmed() || d.n != 2 || !d.WithUp("c").Equal(r) {
		t.Fatalf("WithDown/WithUp: trim %v n %d", d.trimmed(), d.n)
	}
	if p := mustParse(t, r.String()); p.Equal(r) || p.trimmed() {
		t.Fatalf("Parse(String()) of a claims ring reports equal/trimmed: placement rule differs")
	}
	all, _ := FromClaims(Claim{"a", 0})
	if none := all.WithDown("a"); none.n != 0 {
		t.Fatalf("all down: n = %d", none.n)
	}
	if _, ok := all.WithDown("a").Owner("k"); ok {
		t.Fatal("all down: Owner found one")
	}
}

func TestSlotFromHostname(t *testing.T) {
	for _, tc := range []struct {
		host string
		want int // -1: ErrNoOrdinal
	}{
		{"cache-0", 0},
		{"cache-3", 3},
		{"my-cache-7", 7},
		{"cache-3.cache.default.svc.cluster.local", 3},
		{"cache-65535", 65535},
		{"cache-65536", -1},
		{"cache", -1},
		{"cache-", -1},
		{"-3", -1},
		{"cache-03", -1},
		{"cache-3a", -1},
		{"cache.ns-3", -1},
		{"10.0.0.3", -1},
		{"", -1},
	} {
		got, err := SlotFromHostname(tc.host)
		if tc.want < 0 {
			if !errors.Is(err, ErrNoOrdinal) || !strings.Contains(err.Error(), tc.host) {
				t.Errorf("SlotFromHostname(%q) = %d, %v; want ErrNoOrdinal naming the hostname", tc.host, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("SlotFromHostname(%q) = %d, %v; want %d", tc.host, got, err, tc.want)
		}
	}
}

// TestFromClaimsOwners: in a claims ring, the k-th owner is the owner once
// the k-1 before it are marked down, also when that shortens the table.
func TestFromClaimsOwners(t *testing.T) {
	as := addrs(6)
	r, _ := FromClaims(claimsOf(as, 0, 1, 3, 4, 6, 7)...)
	r = r.WithDown(as[3])
	for _, h := range randomHashes(20_000, 11) {
		got := r.OwnersHash(h, 6, nil)
		if len(got) != r.Live() {
			t.Fatalf("%d owners, want %d", len(got), r.Live())
		}
		cur := r
		for k, a := range got {
			if want, _ := cur.OwnerHash(h); a != want {
				t.Fatalf("hash %x: owner %d = %s, want %s (owners %v)", h, k, a, want, got)
			}
			cur = cur.WithDown(a)
		}
	}
}
