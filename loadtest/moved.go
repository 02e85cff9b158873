package loadtest

import "github.com/cachetier/cachetier/ring"

// movedFraction returns the fraction of keys whose owner changes when the
// node added joins a ring of the nodes before, as cacheclient places keys.
func movedFraction(keys, before []string, added string) float64 {
	if len(keys) == 0 {
		return 0
	}
	r0 := ring.New(before...)
	r1 := r0.Join(added, 1)
	moved := 0
	for _, k := range keys {
		a, _ := r0.Owner(k)
		b, _ := r1.Owner(k)
		if a != b {
			moved++
		}
	}
	return float64(moved) / float64(len(keys))
}
