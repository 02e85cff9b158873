// Tests of INFO's instantaneous rates.

package cachenode

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// infoFloat returns the numeric value of field in an INFO reply (a figure
// like "12.50" or "87.30%").
func infoFloat(t *testing.T, info, field string) float64 {
	t.Helper()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
			if err != nil {
				t.Fatalf("INFO %s: %q", field, v)
			}
			return f
		}
	}
	t.Fatalf("INFO has no %s", field)
	return 0
}

// INFO's instantaneous_ops_per_sec and instantaneous_input/output_kbps are
// rates over the last 1.6 s, as in Redis: high while a client sends
// commands, down to the polling INFO's own rate soon after it stops. used_memory_peak keeps the
// highest used_memory, also across FLUSHALL and CONFIG RESETSTAT.
func TestInfoInstantaneous(t *testing.T) {
	s := startServer(t, Config{})
	ctx := context.Background()
	rdb := newClient(t, s.Addr().String(), nil)
	load := newClient(t, s.Addr().String(), nil)

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		val := strings.Repeat("v", 100)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			pipe := load.Pipeline()
			for j := 0; j < 50; j++ {
				pipe.Set(ctx, "k"+strconv.Itoa(i*50+j), val, 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Errorf("load: %v", err)
				return
			}
		}
	}()
	var busy string
	for deadline := time.Now().Add(20 * time.Second); ; {
		busy = rdb.Info(ctx, "stats", "memory").Val()
		if infoField(t, busy, "instantaneous_ops_per_sec") > 100 && infoFloat(t, busy, "instantaneous_input_kbps") > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no instantaneous rates under load:\n%s", busy)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-done
	if out := infoFloat(t, busy, "instantaneous_output_kbps"); out <= 0 {
		t.Errorf("instantaneous_output_kbps %v under load", out)
	}
	used, peak := infoField(t, busy, "used_memory"), infoField(t, busy, "used_memory_peak")
	if peak < used || used == 0 {
		t.Errorf("used_memory %d, used_memory_peak %d", used, peak)
	}

	for deadline := time.Now().Add(20 * time.Second); ; {
		idle := rdb.Info(ctx, "stats").Val()
		// This loop's own INFO commands, 5 a second, are all that is left.
		if infoField(t, idle, "instantaneous_ops_per_sec") < 20 && infoFloat(t, idle, "instantaneous_input_kbps") < 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instantaneous rates still high long after the load:\n%s", idle)
		}
		time.Sleep(200 * time.Millisecond)
	}

	rdb.FlushAll(ctx)
	rdb.ConfigResetStat(ctx)
	mem := rdb.Info(ctx, "memory").Val()
	if now, p := infoField(t, mem, "used_memory"), infoField(t, mem, "used_memory_peak"); p < peak || now >= p {
		t.Errorf("after FLUSHALL and RESETSTAT: used_memory %d, used_memory_peak %d (was %d)", now, p, peak)
	}
	if perc := infoFloat(t, mem, "used_memory_peak_perc"); perc >= 100 || perc < 0 {
		t.Errorf("used_memory_peak_perc %v after FLUSHALL", perc)
	}
}
