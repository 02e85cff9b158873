// Recording Redis's command docs into internal/cmddocs, and their use.

package cachenode

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"

	"github.com/cachetier/cachetier/cachenode/internal/cmddocs"
	"github.com/cachetier/cachetier/internal/redistest"
)

// TestGenerateCommandDocs records redis-server's COMMAND DOCS and
// COMMAND INFO for the commands cachenode implements into
// internal/cmddocs. It runs only with
// CACHENODE_GEN_DOCS=1 (go test -run TestGenerateCommandDocs).
func TestGenerateCommandDocs(t *testing.T) {
	if os.Getenv("CACHENODE_GEN_DOCS") != "1" {
		t.Skip("set CACHENODE_GEN_DOCS=1 to regenerate internal/cmddocs from redis-server")
	}
	rs := redistest.Start(t)
	c := dialRaw(t, rs.Addr)
	c.do("HELLO", "3")
	args := []string{"COMMAND", "DOCS"}
	for _, cmd := range topCommands() {
		args = append(args, cmd.name)
	}
	reply := c.do(args...)
	if _, err := cmddocs.Parse(bufio.NewReader(stringsReader(reply))); err != nil {
		t.Fatalf("unparsable reply: %v", err)
	}
	if err := os.WriteFile(filepath.Join("internal", "cmddocs", cmddocs.DocsFile), []byte(reply), 0o644); err != nil {
		t.Fatal(err)
	}
	args[1] = "INFO"
	reply = c.do(args...)
	if _, err := cmddocs.Parse(bufio.NewReader(stringsReader(reply))); err != nil {
		t.Fatalf("unparsable reply: %v", err)
	}
	if err := os.WriteFile(filepath.Join("internal", "cmddocs", cmddocs.InfoFile), []byte(reply), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRecordedDocs(t *testing.T) {
	docs := cmddocs.Docs()
	for _, name := range []string{"get", "set", "client|list", "config|get", "command|docs"} {
		if _, ok := docs[name]; !ok {
			t.Errorf("no recorded docs for %s", name)
		}
	}
	s := startServer(t, Config{})
	for _, proto := range []string{"2", "3"} {
		c := dialRaw(t, s.Addr().String())
		c.do("HELLO", proto)
		r := c.do("COMMAND", "DOCS", "set", "client", "latency")
		v, err := cmddocs.Parse(bufio.NewReader(stringsReader(r)))
		if err != nil {
			t.Fatalf("RESP%s: %v", proto, err)
		}
		if info := c.do("COMMAND", "INFO", "get"); !bytesContains(info, "begin_search") || !bytesContains(info, "+access") {
			t.Errorf("RESP%s COMMAND INFO get lacks Redis's key specs: %q", proto, info)
		}
		if proto == "3" && v.Kind != '%' || proto == "2" && v.Kind != '*' {
			t.Errorf("RESP%s: reply type %c", proto, v.Kind)
		}
		for _, want := range []string{"arguments", "KEEPTTL", "client|setinfo", "client|list", "client|tracking", "client|unblock", "latency|latest"} {
			if !bytesContains(r, want) {
				t.Errorf("RESP%s COMMAND DOCS lacks %q", proto, want)
			}
		}
		if bytesContains(r, "latency|histogram") {
			t.Errorf("RESP%s COMMAND DOCS lists an unimplemented subcommand", proto)
		}
	}
}
