package loadtest

import (
	"fmt"
	"math"
	"testing"
)

func TestMovedKeys(t *testing.T) {
	keys := make([]string, 20000)
	for i := range keys {
		keys[i] = fmt.Sprintf("lt00000000:%d", i)
	}
	for n := 1; n <= 9; n++ {
		var nodes []string
		for i := 0; i < n; i++ {
			nodes = append(nodes, fmt.Sprintf("127.0.0.1:%d", 7001+i))
		}
		got, ideal := float64(len(movedKeys(keys, nodes, "127.0.0.1:9999")))/float64(len(keys)), 1/float64(n+1)
		if math.Abs(got-ideal)/ideal > 0.05 {
			t.Errorf("%d → %d nodes: %.4f of keys moved, ideal %.4f", n, n+1, got, ideal)
		}
	}
	if m := movedKeys(keys, []string{"a:1", "b:1"}, "a:1"); len(m) != 0 {
		t.Errorf("re-adding a member moved %d keys", len(m))
	}
}
