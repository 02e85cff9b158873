package loadtest

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/ring"
)

// movedKeys returns the keys whose owner changes when the node added joins
// a ring of the nodes before, as cacheclient places keys.
func movedKeys(keys, before []string, added string) []string {
	r0 := ring.New(before...)
	r1 := r0.Join(added, 1)
	var moved []string
	for _, k := range keys {
		a, _ := r0.Owner(k)
		b, _ := r1.Owner(k)
		if a != b {
			moved = append(moved, k)
		}
	}
	return moved
}

// movedFraction returns the fraction of keys whose owner changes when the
// node added joins a ring of the nodes before.
func movedFraction(keys, before []string, added string) float64 {
	if len(keys) == 0 {
		return 0
	}
	return float64(len(movedKeys(keys, before, added))) / float64(len(keys))
}

// joinState is what scaleout records at the join: the node added, the keys
// that moved to it, and the origin's calls per key until then.
type joinState struct {
	addr  string
	moved []string
	calls map[string]int64
}

// MoveFigures (scaleout) is what the keys that moved to the new node cost the
// origin after the join. A moved key is warm when the origin had served it
// before the join (the tier held it on its previous owner); it was read
// after the join when the new node holds it at the end of the run (every
// read of it after the join went to the new node, and a miss there fills
// it) or the origin served it again. The TTL outlives the run (scaleout's
// default is 5 minutes), so a warm key the origin served again after the join
// is a load the move caused.
type MoveFigures struct {
	// Moved counts the run's keys whose owner changed.
	Moved int `json:"moved"`
	// WarmRead counts the warm moved keys read after the join.
	WarmRead int `json:"warm_read"`
	// Reloaded counts those of them the origin served again after the join.
	Reloaded int `json:"reloaded"`
	// ReloadFraction is Reloaded / WarmRead (0 when none was read): the
	// origin loads the move caused per moved key read. Warm-up reads aim
	// at 0.05 at most; without them it is about 1.
	ReloadFraction float64 `json:"reload_fraction"`
}

// moveFigures computes the MoveFigures of a scaleout run after its clients
// stopped, reading the new node's keys (SCAN) and the origin's counts.
func (r *run) moveFigures() {
	r.mu.Lock()
	js := r.joined
	r.mu.Unlock()
	if js == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: js.addr, DisableIdentity: true})
	defer rdb.Close()
	held := make(map[string]bool)
	iter := rdb.Scan(ctx, 0, r.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if k := iter.Val(); strings.HasPrefix(k, r.prefix) {
			held[k] = true
		}
	}
	if err := iter.Err(); err != nil {
		r.logf("loadtest: scanning the new node %s: %v", js.addr, err)
		return
	}
	after := r.origin.CallsPerKey()
	f := &MoveFigures{Moved: len(js.moved)}
	for _, k := range js.moved {
		if js.calls[k] == 0 {
			continue // cold: never loaded before the join
		}
		reloaded := after[k] > js.calls[k]
		if held[k] || reloaded {
			f.WarmRead++
		}
		if reloaded {
			f.Reloaded++
		}
	}
	if f.WarmRead > 0 {
		f.ReloadFraction = float64(f.Reloaded) / float64(f.WarmRead)
	}
	r.mu.Lock()
	r.move = f
	r.mu.Unlock()
}
