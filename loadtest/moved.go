package loadtest

import (
	"fmt"

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

// joinState is what scaleout and nodekill record at their event (the join,
// the kill): the keys whose owner changed and the origin's calls per key
// until then.
type joinState struct {
	keys  []string // the run's keys, by index
	moved map[int]bool
	calls map[string]int64
}

// MoveFigures (scaleout, nodekill) is what the keys whose owner changed — the
// keys that moved to the new node, or the dead node's keys — cost the origin
// after the event. A key is warm when the origin had served it before the
// event (the tier held it); it was read after the event when a client
// process read it after the parent's mark, sent at the event. The TTL
// outlives the run (5 minutes by default in both scenarios), so a warm key
// the origin served again after the event is a load the event caused.
type MoveFigures struct {
	// Moved counts the run's keys whose owner changed.
	Moved int `json:"moved"`
	// WarmRead counts the warm ones among them read after the event.
	WarmRead int `json:"warm_read"`
	// Reloaded counts those of them the origin served again after it.
	Reloaded int `json:"reloaded"`
	// ReloadFraction is Reloaded / WarmRead (0 when none was read): the
	// origin loads the event caused per such key read. Warm-up reads
	// (scaleout) and replicas (nodekill) aim at 0.05 at most; without them
	// it is about 1.
	ReloadFraction float64 `json:"reload_fraction"`
}

// markEvent records, at the join or the kill, which of the run's keys change
// owner (moved reports it for a key), snapshots the origin's counts, and
// tells the client processes to note the keys they read from now on.
func (r *run) markEvent(moved func(key string) bool) {
	keys := make([]string, r.cfg.Keys)
	js := &joinState{keys: keys, moved: map[int]bool{}, calls: r.origin.CallsPerKey()}
	for i := range keys {
		keys[i] = r.prefix + fmt.Sprint(i)
		if moved(keys[i]) {
			js.moved[i] = true
		}
	}
	r.mu.Lock()
	r.joined = js
	r.mu.Unlock()
	r.broadcast(command{Op: "mark"})
}

// moveFigures computes the MoveFigures of a scaleout or nodekill run after
// its clients stopped, from the origin's counts and the keys the processes
// read after the mark.
func (r *run) moveFigures() {
	r.mu.Lock()
	defer r.mu.Unlock()
	js := r.joined
	if js == nil {
		return
	}
	after := r.origin.CallsPerKey()
	f := &MoveFigures{Moved: len(js.moved)}
	for i := range js.moved {
		k := js.keys[i]
		if js.calls[k] == 0 || !r.readAfter[i] {
			continue // cold (never loaded before), or not read after
		}
		f.WarmRead++
		if after[k] > js.calls[k] {
			f.Reloaded++
		}
	}
	if f.WarmRead > 0 {
		f.ReloadFraction = float64(f.Reloaded) / float64(f.WarmRead)
	}
	r.move = f
}
