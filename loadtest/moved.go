package loadtest

import (
	"github.com/cespare/xxhash/v2"
	jump "github.com/dgryski/go-jump"
)

// movedFraction returns the fraction of keys whose owner changes when
// added joins the nodes in before.
// TODO(loadtest): use package ring once it is on main (interim: jump hash).
func movedFraction(keys, before []string, added string) float64 {
	if len(keys) == 0 {
		return 0
	}
	moved := 0
	for _, k := range keys {
		h := xxhash.Sum64String(k)
		if jump.Hash(h, len(before)) != jump.Hash(h, len(before)+1) {
			moved++
		}
	}
	return float64(moved) / float64(len(keys))
}
