package loadtest

import (
	"bytes"
	"testing"
	"time"
)

// FuzzReportLines feeds arbitrary child output to the parent's reader: no
// panic, and no allocation driven by the input beyond the run's bounds.
func FuzzReportLines(f *testing.F) {
	f.Add([]byte(`{"type":"ready","id":0}` + "\n" + `{"type":"tick","id":0,"i":3,"c":{"requests":5,"l1_hits":4},"h":[[10,4],[300,1]],"max_ns":900}` + "\n" + `{"type":"done","id":0,"errs":["boom"]}` + "\n"))
	f.Add([]byte(`{"type":"tick","i":999999999,"c":{"requests":1}}`))
	f.Add([]byte(`{"type":"tick","i":-1,"c":{"requests":1},"h":[[18446744073709551615,1]]}`))
	f.Add([]byte(`{"type":"fatal","msg":"x"}` + "\n{not json\n" + `{"type":"tick","i":1,"h":[[1,2]]}`))
	f.Add([]byte("\x00\xff\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &run{cfg: Config{Duration: 2 * time.Second, Interval: 500 * time.Millisecond}}
		p := &proc{ready: make(chan error, 1), done: make(chan struct{})}
		r.readReports(p, bytes.NewReader(data))
		select {
		case <-p.done:
		default:
			t.Fatal("done not closed after the child's output ended")
		}
		if len(r.series) > 200 {
			t.Fatalf("%d intervals allocated for a 2s run", len(r.series))
		}
		for i := range r.series {
			_ = r.series[i].h.quantileMS(0.99)
		}
	})
}
