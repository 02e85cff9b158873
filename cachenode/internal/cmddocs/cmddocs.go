// Package cmddocs holds redis-server 7's COMMAND DOCS and COMMAND INFO
// replies for the commands cachenode implements, as recorded by cachenode's
// TestGenerateCommandDocs, and the RESP3 value type that reads them and
// writes them out again in a client's protocol. It is data only: cachenode
// decides which entries it answers with.
package cmddocs

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/cachetier/cachetier/internal/resp"
)

// Files the recorded replies are embedded from, in this package's
// directory; TestGenerateCommandDocs writes them.
const (
	DocsFile = "commanddocs.resp"
	InfoFile = "commandinfo.resp"
)

// docsRESP3 is redis-server 7's COMMAND DOCS reply (RESP3). The
// documentation text is Redis's (BSD-3-Clause, Copyright Redis Ltd.); it
// gives redis-cli the argument hints and HELP it shows for Redis.
//
//go:embed commanddocs.resp
var docsRESP3 []byte

// infoRESP3 is redis-server 7's COMMAND INFO reply (RESP3) for the same
// commands: flags, key specifications and tips exactly as Redis has them.
//
//go:embed commandinfo.resp
var infoRESP3 []byte

// Value is a parsed RESP3 reply.
type Value struct {
	Kind  byte // the RESP3 type byte: '$', '+', ':', '%', '*', '~', ...
	Str   string
	Elems []Value // an aggregate's elements; a map's keys and values alternate
}

// Parse reads one RESP3 value from br.
func Parse(br *bufio.Reader) (Value, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return Value{}, err
	}
	if len(line) < 3 {
		return Value{}, fmt.Errorf("short line %q", line)
	}
	v := Value{Kind: line[0], Str: line[1 : len(line)-2]}
	switch v.Kind {
	case '$', '=':
		n, err := strconv.Atoi(v.Str)
		if err != nil || n < 0 {
			return Value{}, fmt.Errorf("bad bulk length %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return Value{}, err
		}
		v.Str = string(buf[:n])
	case '*', '~', '%':
		n, err := strconv.Atoi(v.Str)
		if err != nil || n < 0 {
			return Value{}, fmt.Errorf("bad aggregate length %q", line)
		}
		if v.Kind == '%' {
			n *= 2
		}
		v.Elems = make([]Value, n)
		for i := range v.Elems {
			if v.Elems[i], err = Parse(br); err != nil {
				return Value{}, err
			}
		}
	}
	return v, nil
}

// Append encodes v for a client speaking proto (2 or 3) and appends it to
// dst.
func (v Value) Append(dst []byte, proto int) []byte {
	switch v.Kind {
	case '$':
		return resp.AppendBulkString(dst, v.Str)
	case '=':
		return resp.AppendVerbatim(dst, v.Str[:3], []byte(v.Str[4:]), proto)
	case '%':
		dst = resp.AppendMapLen(dst, len(v.Elems)/2, proto)
	case '~':
		dst = resp.AppendSetLen(dst, len(v.Elems), proto)
	case '*':
		dst = resp.AppendArrayLen(dst, len(v.Elems))
	case '_':
		return resp.AppendNull(dst, proto)
	default: // '+', ':', '-' and the like are the same in both protocols
		dst = append(dst, v.Kind)
		dst = append(dst, v.Str...)
		return append(dst, '\r', '\n')
	}
	for _, e := range v.Elems {
		dst = e.Append(dst, proto)
	}
	return dst
}

// Field returns the value under name (ASCII case-insensitively) in the map
// v, or the zero Value.
func (v Value) Field(name string) Value {
	for i := 0; i+1 < len(v.Elems); i += 2 {
		if strings.EqualFold(v.Elems[i].Str, name) {
			return v.Elems[i+1]
		}
	}
	return Value{}
}

// Int returns v's text as an integer, 0 if it is not one.
func (v Value) Int() int {
	n, _ := strconv.Atoi(v.Str)
	return n
}

var (
	docsOnce   sync.Once
	docsByName map[string]Value
	infoOnce   sync.Once
	infoByName map[string]Value
)

// Info returns Redis's COMMAND INFO entry of each recorded command, keyed
// by full name ("get", "client|list"), subcommands included. The map is
// shared: callers must not change it.
func Info() map[string]Value {
	infoOnce.Do(func() {
		infoByName = make(map[string]Value)
		v, err := Parse(bufio.NewReader(bytes.NewReader(infoRESP3)))
		if err != nil || v.Kind != '*' {
			return
		}
		var add func(e Value)
		add = func(e Value) {
			if len(e.Elems) != 10 {
				return
			}
			infoByName[e.Elems[0].Str] = e
			for _, sub := range e.Elems[9].Elems {
				add(sub)
			}
		}
		for _, e := range v.Elems {
			add(e)
		}
	})
	return infoByName
}

// Docs returns Redis's COMMAND DOCS entry of each recorded command, keyed
// by full name, subcommands included (a container's entry also lists its
// subcommands, under "subcommands"). The map is shared: callers must not
// change it.
func Docs() map[string]Value {
	docsOnce.Do(func() {
		docsByName = make(map[string]Value)
		v, err := Parse(bufio.NewReader(bytes.NewReader(docsRESP3)))
		if err != nil || v.Kind != '%' {
			return
		}
		for i := 0; i+1 < len(v.Elems); i += 2 {
			name, doc := v.Elems[i].Str, v.Elems[i+1]
			subs := doc.Field("subcommands")
			for k := 0; k+1 < len(subs.Elems); k += 2 {
				docsByName[subs.Elems[k].Str] = subs.Elems[k+1]
			}
			docsByName[name] = doc
		}
	})
	return docsByName
}
