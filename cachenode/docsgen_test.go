package cachenode

import (
	"bufio"
	"os"
	"testing"

	"github.com/cachetier/cachetier/internal/redistest"
)

// TestGenerateCommandDocs records redis-server's COMMAND DOCS and
// COMMAND INFO for the commands cachenode implements into commanddocs.resp
// and commandinfo.resp. It runs only with
// CACHENODE_GEN_DOCS=1 (go test -run TestGenerateCommandDocs).
func TestGenerateCommandDocs(t *testing.T) {
	if os.Getenv("CACHENODE_GEN_DOCS") != "1" {
		t.Skip("set CACHENODE_GEN_DOCS=1 to regenerate commanddocs.resp from redis-server")
	}
	rs := redistest.Start(t)
	c := dialRaw(t, rs.Addr)
	c.do("HELLO", "3")
	args := []string{"COMMAND", "DOCS"}
	for _, cmd := range topCommands() {
		args = append(args, cmd.name)
	}
	reply := c.do(args...)
	if _, err := parseValue(bufio.NewReader(stringsReader(reply))); err != nil {
		t.Fatalf("unparsable reply: %v", err)
	}
	if err := os.WriteFile("commanddocs.resp", []byte(reply), 0o644); err != nil {
		t.Fatal(err)
	}
	args[1] = "INFO"
	reply = c.do(args...)
	if _, err := parseValue(bufio.NewReader(stringsReader(reply))); err != nil {
		t.Fatalf("unparsable reply: %v", err)
	}
	if err := os.WriteFile("commandinfo.resp", []byte(reply), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRecordedDocs(t *testing.T) {
	docs := recordedDocs()
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
		v, err := parseValue(bufio.NewReader(stringsReader(r)))
		if err != nil {
			t.Fatalf("RESP%s: %v", proto, err)
		}
		if info := c.do("COMMAND", "INFO", "get"); !bytesContains(info, "begin_search") || !bytesContains(info, "+access") {
			t.Errorf("RESP%s COMMAND INFO get lacks Redis's key specs: %q", proto, info)
		}
		if proto == "3" && v.kind != '%' || proto == "2" && v.kind != '*' {
			t.Errorf("RESP%s: reply type %c", proto, v.kind)
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
