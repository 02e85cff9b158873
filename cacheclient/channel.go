package cacheclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// channel is a node's invalidation channel (coherence.go): one RESP3
// connection that receives the node's invalidation pushes, owned by the
// goroutine run. The tier starts it with the node and stops it (close) when
// the node leaves or the client closes.
type channel struct {
	t    *tier
	nd   *node
	stop context.CancelFunc
	done chan struct{}

	mu   sync.Mutex   // protects conn
	conn net.Conn     // the current connection, nil between connections
	id   atomic.Int64 // its CLIENT ID
}

// channelBackoffMin and channelBackoffMax bound the wait between two dial
// attempts of a channel whose node does not answer.
const (
	channelBackoffMin = 25 * time.Millisecond
	channelBackoffMax = 2 * time.Second
)

// startChannel starts nd's channel goroutine (coherence on, L1 on).
func (t *tier) startChannel(nd *node) {
	if !t.co.enabled {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	ch := &channel{t: t, nd: nd, stop: stop, done: make(chan struct{})}
	nd.ch = ch
	go func() {
		defer close(ch.done)
		ch.run(ctx)
	}()
}

// close stops the channel goroutine and waits for it.
func (ch *channel) close() {
	ch.stop()
	<-ch.done
}

// kick closes the current connection, so that run dials again (and installs
// a fresh pool).
func (ch *channel) kick() {
	ch.mu.Lock()
	if ch.conn != nil {
		_ = ch.conn.Close()
	}
	ch.mu.Unlock()
}

// run connects, installs a pool that redirects its tracking to this
// connection, and reads pushes until the connection fails; then the node is
// incoherent, L1 is flushed, and it dials again, until ctx ends.
func (ch *channel) run(ctx context.Context) {
	t, nd := ch.t, ch.nd
	backoff := channelBackoffMin
	first := true
	for {
		conn, rd, id, err := ch.dial(ctx)
		if err != nil {
			nd.coherent.Store(false)
			if ctx.Err() != nil {
				return
			}
			t.log.Debug("cacheclient: invalidation channel", "node", nd.addr, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(jitter(backoff)):
			}
			backoff = min(2*backoff, channelBackoffMax)
			continue
		}
		backoff = channelBackoffMin
		if !first {
			t.st.channelReconnects.Add(1)
		}
		ch.mu.Lock()
		ch.conn = conn
		ch.mu.Unlock()
		ch.id.Store(id)
		stopClose := context.AfterFunc(ctx, func() { _ = conn.Close() })
		// Connections dialled from now on redirect to id; entries read
		// before may have missed messages.
		nd.resetPool(t, id)
		nd.coherent.Store(true)
		if !first {
			// Entries read before the loss may have missed messages. (At
			// the first connection there are none: entries read before it
			// are flagged incoherent and keep today's lifetime.)
			t.co.flush()
		}
		first = false
		err = ch.read(rd)
		nd.coherent.Store(false)
		t.co.flush()
		stopClose()
		ch.mu.Lock()
		ch.conn = nil
		ch.mu.Unlock()
		_ = conn.Close()
		if ctx.Err() != nil {
			return
		}
		t.log.Debug("cacheclient: invalidation channel lost", "node", nd.addr, "err", err)
	}
}

// dial opens the channel connection: HELLO 3 (with AUTH), CLIENT ID.
func (ch *channel) dial(ctx context.Context) (net.Conn, *bufio.Reader, int64, error) {
	t := ch.t
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", ch.nd.addr)
	if err != nil {
		return nil, nil, 0, err
	}
	_ = conn.SetDeadline(time.Now().Add(t.cfg.DialTimeout + t.cfg.Timeout))
	args := []string{"HELLO", "3"}
	if t.cfg.Password != "" {
		args = append(args, "AUTH", "default", t.cfg.Password)
	}
	var buf []byte
	buf = appendCommand(buf, args...)
	buf = appendCommand(buf, "CLIENT", "ID")
	rd := bufio.NewReader(conn)
	var id int64
	if _, err = conn.Write(buf); err == nil {
		if _, err = readValue(rd); err == nil {
			var v any
			if v, err = readValue(rd); err == nil {
				n, ok := v.(int64)
				if !ok {
					err = fmt.Errorf("CLIENT ID: unexpected reply %v", v)
				}
				id = n
			}
		}
	}
	if err != nil {
		_ = conn.Close()
		return nil, nil, 0, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, rd, id, nil
}

// read handles pushes until the connection fails.
func (ch *channel) read(rd *bufio.Reader) error {
	co := ch.t.co
	for {
		v, err := readValue(rd)
		if err != nil {
			return err
		}
		p, ok := v.(push)
		if !ok || len(p) != 2 {
			continue
		}
		if kind, _ := p[0].(string); kind != "invalidate" {
			continue
		}
		keys, ok := p[1].([]any)
		if !ok { // null: everything this node tracked is gone
			co.flush()
			continue
		}
		for _, k := range keys {
			if s, ok := k.(string); ok {
				co.invalidate(s)
			}
		}
	}
}

// appendCommand appends a RESP command (an array of bulk strings).
func appendCommand(dst []byte, args ...string) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// push is a RESP3 push message.
type push []any

// maxRESPLen bounds the lengths a channel accepts (a bulk string or an
// aggregate), so that a broken peer cannot make it allocate without bound.
const maxRESPLen = 512 << 20

// readValue reads one RESP2/RESP3 value: string (simple, bulk, verbatim,
// big number, double), int64, bool, nil, []any (array, set, map flattened),
// push, or an error for an error reply (returned as the error). Attributes
// are skipped.
func readValue(rd *bufio.Reader) (any, error) {
	line, err := rd.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, errors.New("cacheclient: channel: bad RESP line")
	}
	typ, body := line[0], string(line[1:len(line)-2])
	switch typ {
	case '+', ',', '(':
		return body, nil
	case '-', '!':
		if typ == '!' {
			n, err := respLen(body)
			if err != nil || n < 0 {
				return nil, errors.New("cacheclient: channel: bad blob error")
			}
			b := make([]byte, n+2)
			if _, err := io.ReadFull(rd, b); err != nil {
				return nil, err
			}
			body = string(b[:n])
		}
		return nil, fmt.Errorf("cacheclient: channel: %s", body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '_':
		return nil, nil
	case '#':
		return body == "t", nil
	case '$', '=':
		n, err := respLen(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(rd, b); err != nil {
			return nil, err
		}
		return string(b[:n]), nil
	case '*', '~', '>', '%', '|':
		n, err := respLen(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		if typ == '%' || typ == '|' {
			n *= 2
		}
		vals := make([]any, 0, min(n, 1024))
		for i := 0; i < n; i++ {
			v, err := readValue(rd)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
		switch typ {
		case '>':
			return push(vals), nil
		case '|':
			return readValue(rd) // the attribute annotates the next value
		}
		return vals, nil
	}
	return nil, fmt.Errorf("cacheclient: channel: unknown RESP type %q", typ)
}

func respLen(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n > maxRESPLen {
		return 0, fmt.Errorf("cacheclient: channel: bad length %q", s)
	}
	return n, nil
}
