package cmddocs

import (
	"bufio"
	"bytes"
	"testing"
)

// TestRoundTrip: the recorded replies parse, and written out again in
// RESP3 they are byte for byte what redis-server sent.
func TestRoundTrip(t *testing.T) {
	for name, raw := range map[string][]byte{DocsFile: docsRESP3, InfoFile: infoRESP3} {
		v, err := Parse(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := v.Append(nil, 3); !bytes.Equal(got, raw) {
			t.Errorf("%s: re-encoded reply differs from the recording (%d bytes, want %d)", name, len(got), len(raw))
		}
	}
}

func TestLookups(t *testing.T) {
	info, docs := Info(), Docs()
	for _, name := range []string{"get", "set", "client", "client|list", "config|get", "object|encoding"} {
		if _, ok := info[name]; !ok {
			t.Errorf("Info lacks %s", name)
		}
		if _, ok := docs[name]; !ok {
			t.Errorf("Docs lacks %s", name)
		}
	}
	if got := info["mset"].Elems[1].Int(); got != -3 {
		t.Errorf("mset arity %d, want -3", got)
	}
	if got := docs["get"].Field("SINCE").Str; got != "1.0.0" {
		t.Errorf("get since %q, want 1.0.0", got)
	}
}
