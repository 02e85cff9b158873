package cachenode

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/cachetier/cachetier/internal/resp"
)

// commandDocsRESP3 is redis-server 7's COMMAND DOCS reply (RESP3) for the
// commands cachenode implements, recorded by TestGenerateCommandDocs. The
// documentation text is Redis's (BSD-3-Clause, Copyright Redis Ltd.); it
// gives redis-cli the argument hints and HELP it shows for Redis.
//
//go:embed commanddocs.resp
var commandDocsRESP3 []byte

// commandInfoRESP3 is redis-server 7's COMMAND INFO reply (RESP3) for the
// same commands: flags, key specifications and tips exactly as Redis has them.
//
//go:embed commandinfo.resp
var commandInfoRESP3 []byte

// value is a parsed RESP3 reply, used to re-encode the recorded docs in the
// client's protocol.
type value struct {
	kind  byte // the RESP3 type byte: '$', '+', ':', '%', '*', '~', ...
	str   string
	elems []value
}

func parseValue(br *bufio.Reader) (value, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return value{}, err
	}
	if len(line) < 3 {
		return value{}, fmt.Errorf("short line %q", line)
	}
	v := value{kind: line[0], str: line[1 : len(line)-2]}
	switch v.kind {
	case '$', '=':
		n, err := strconv.Atoi(v.str)
		if err != nil || n < 0 {
			return value{}, fmt.Errorf("bad bulk length %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return value{}, err
		}
		v.str = string(buf[:n])
	case '*', '~', '%':
		n, err := strconv.Atoi(v.str)
		if err != nil || n < 0 {
			return value{}, fmt.Errorf("bad aggregate length %q", line)
		}
		if v.kind == '%' {
			n *= 2
		}
		v.elems = make([]value, n)
		for i := range v.elems {
			if v.elems[i], err = parseValue(br); err != nil {
				return value{}, err
			}
		}
	}
	return v, nil
}

// appendValue encodes v for a client speaking proto.
func appendValue(dst []byte, v value, proto int) []byte {
	switch v.kind {
	case '$':
		return resp.AppendBulkString(dst, v.str)
	case '=':
		return resp.AppendVerbatim(dst, v.str[:3], []byte(v.str[4:]), proto)
	case '%':
		dst = resp.AppendMapLen(dst, len(v.elems)/2, proto)
	case '~':
		dst = resp.AppendSetLen(dst, len(v.elems), proto)
	case '*':
		dst = resp.AppendArrayLen(dst, len(v.elems))
	case '_':
		return resp.AppendNull(dst, proto)
	default: // '+', ':', '-' and the like are the same in both protocols
		dst = append(dst, v.kind)
		dst = append(dst, v.str...)
		return append(dst, '\r', '\n')
	}
	for _, e := range v.elems {
		dst = appendValue(dst, e, proto)
	}
	return dst
}

var (
	docsOnce   sync.Once
	docsByName map[string]value // full command name -> docs map
	infoOnce   sync.Once
	infoByName map[string]value // full command name -> COMMAND INFO entry
)

// recordedInfo returns Redis's COMMAND INFO entry of each command cachenode
// has, keyed by full name, subcommands included.
func recordedInfo() map[string]value {
	infoOnce.Do(func() {
		infoByName = make(map[string]value)
		v, err := parseValue(bufio.NewReader(bytes.NewReader(commandInfoRESP3)))
		if err != nil || v.kind != '*' {
			return
		}
		var add func(e value)
		add = func(e value) {
			if len(e.elems) != 10 || findCommand([]byte(e.elems[0].str)) == nil {
				return
			}
			infoByName[e.elems[0].str] = e
			for _, sub := range e.elems[9].elems {
				add(sub)
			}
		}
		for _, e := range v.elems {
			add(e)
		}
	})
	return infoByName
}

// recordedDocs returns Redis's docs for each command cachenode has, keyed
// by full name ("get", "client|list"), keeping only the subcommands
// cachenode implements.
func recordedDocs() map[string]value {
	docsOnce.Do(func() {
		docsByName = make(map[string]value)
		v, err := parseValue(bufio.NewReader(bytes.NewReader(commandDocsRESP3)))
		if err != nil || v.kind != '%' {
			return // fall back to the built-in summaries
		}
		for i := 0; i+1 < len(v.elems); i += 2 {
			name, doc := v.elems[i].str, v.elems[i+1]
			cmd := findCommand([]byte(name))
			if cmd == nil {
				continue
			}
			for j := 0; j+1 < len(doc.elems); j += 2 {
				if doc.elems[j].str != "subcommands" {
					continue
				}
				subs := doc.elems[j+1]
				for k := 0; k+1 < len(subs.elems); k += 2 {
					if findCommand([]byte(subs.elems[k].str)) != nil {
						docsByName[subs.elems[k].str] = subs.elems[k+1]
					}
				}
			}
			docsByName[cmd.name] = doc
		}
	})
	return docsByName
}
