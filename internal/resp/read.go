package resp

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// Redis 7's protocol limits.
const (
	// InlineMaxSize is the longest inline request, and the longest
	// multibulk/bulk count line, accepted (PROTO_INLINE_MAX_SIZE).
	InlineMaxSize = 64 * 1024
	// DefaultMaxBulk is proto-max-bulk-len's default: the largest bulk
	// argument accepted.
	DefaultMaxBulk = 512 * 1024 * 1024
	// DefaultMaxQueryBuffer is client-query-buffer-limit's default: a client
	// whose pending input outgrows it is disconnected.
	DefaultMaxQueryBuffer = 1024 * 1024 * 1024
	// UnauthMaxArgs and UnauthMaxBulk are the limits Redis 7 applies to
	// clients that have not authenticated yet (CVE-2021-32675).
	UnauthMaxArgs = 10
	UnauthMaxBulk = 16384
	// maxMultibulk is the largest multibulk count accepted (INT_MAX).
	maxMultibulk = 1<<31 - 1

	defaultBufSize = 4 * 1024
	// busyBufSize is the buffer of a client whose read filled the default
	// one (a pipeline of larger values): as many bytes per read as Redis
	// takes (PROTO_IOBUF_LEN), where 4 KiB took three reads and a
	// compaction per 16 commands of 650-byte values.
	busyBufSize = 16 * 1024
	// shrinkAbove: an empty buffer larger than this is released.
	shrinkAbove = 256 * 1024
)

// ErrIncomplete is returned by Reader.Next when the buffer does not hold a
// complete command; call Fill to read more.
var ErrIncomplete = errors.New("resp: incomplete command")

// ErrQueryBufferLimit is returned by Fill when a client's pending input would
// outgrow MaxQueryBuffer. Redis closes such clients without a reply.
var ErrQueryBufferLimit = errors.New("resp: query buffer limit reached")

// ProtocolError is a malformed request. Its Error text is Redis's, e.g.
// "Protocol error: invalid bulk length"; a server replies "-ERR " + Error()
// and closes the connection.
type ProtocolError struct{ msg string }

// Error returns "Protocol error: " followed by the reason.
func (e *ProtocolError) Error() string { return "Protocol error: " + e.msg }

func protoErr(msg string) error { return &ProtocolError{msg: msg} }

// Reader parses commands from a connection. It owns one growing buffer per
// connection; the arguments Next returns point into that buffer (or, for
// inline commands, into a scratch buffer) and stay valid only until the next
// call to Next or Fill.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	rd io.Reader

	buf  []byte // data is buf[r:w]
	r, w int
	busy bool // the last read filled the buffer

	// State of a multibulk command being parsed; offsets relative to r.
	want int   // arguments still expected; 0 = between commands
	bulk int   // length of the next argument; -1 = its $ line not read yet
	pos  int   // parse position, relative to r
	offs []int // start,end of each parsed argument, relative to r

	args   [][]byte
	inline []byte

	// MaxBulk is the largest bulk argument accepted (default DefaultMaxBulk).
	MaxBulk int64
	// MaxQueryBuffer bounds the buffered input of one client (default
	// DefaultMaxQueryBuffer).
	MaxQueryBuffer int
	// Unauthenticated applies Redis's limits for clients that must still
	// authenticate: at most UnauthMaxArgs arguments of UnauthMaxBulk bytes.
	Unauthenticated bool
}

// NewReader returns a Reader reading from rd with Redis's default limits.
func NewReader(rd io.Reader) *Reader {
	return &Reader{rd: rd, bulk: -1, MaxBulk: DefaultMaxBulk, MaxQueryBuffer: DefaultMaxQueryBuffer}
}

// bufPool holds the default-size buffers of released Readers, so a server
// whose clients come and go reuses memory it has already touched instead of
// taking (and page-faulting in) fresh memory for every new connection.
var bufPool = sync.Pool{New: func() any { b := make([]byte, defaultBufSize); return &b }}

// Release gives the Reader's buffer back for other Readers to reuse. Neither
// the Reader nor any argument slice it returned may be used afterwards.
func (r *Reader) Release() {
	if cap(r.buf) == defaultBufSize {
		b := r.buf[:defaultBufSize]
		bufPool.Put(&b)
	}
	r.buf = nil
	r.r, r.w = 0, 0
}

// Reset makes the Reader read from rd, dropping any buffered input.
func (r *Reader) Reset(rd io.Reader) {
	r.rd = rd
	r.r, r.w, r.busy = 0, 0, false
	r.want, r.bulk, r.pos = 0, -1, 0
	r.offs = r.offs[:0]
}

// Buffered returns the number of unparsed bytes in the buffer.
func (r *Reader) Buffered() int { return r.w - r.r }

// Fill reads more input from the underlying reader into the buffer, growing
// the buffer as a partial command needs (doubling, never beyond what the
// client has sent plus one read), and to busyBufSize once a read has filled
// it. It returns the reader's error only when no data was read.
func (r *Reader) Fill() error {
	if r.r == r.w && r.want == 0 {
		r.r, r.w = 0, 0
		if cap(r.buf) > shrinkAbove {
			r.buf = nil
		}
	}
	if r.buf == nil {
		r.buf = *bufPool.Get().(*[]byte)
	}
	if r.busy && len(r.buf) < busyBufSize && busyBufSize <= r.MaxQueryBuffer {
		// The client sends more than a read takes: read more at a time.
		// The old buffer goes to the collector, not back to the pool,
		// so no other connection reuses memory still reachable here.
		r.realloc(busyBufSize)
	}
	if r.w == len(r.buf) {
		if r.r > 0 {
			// Compact: move the unparsed tail to the front.
			copy(r.buf, r.buf[r.r:r.w])
			r.w -= r.r
			r.r = 0
		}
		if r.w == len(r.buf) {
			if len(r.buf) >= r.MaxQueryBuffer {
				return ErrQueryBufferLimit
			}
			n := 2 * len(r.buf)
			if n > r.MaxQueryBuffer {
				n = r.MaxQueryBuffer
			}
			r.realloc(n)
		}
	}
	n, err := r.rd.Read(r.buf[r.w:])
	r.busy = n == len(r.buf)-r.w
	r.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// realloc moves the unparsed input to the start of a new buffer of size
// bytes.
func (r *Reader) realloc(size int) {
	nb := make([]byte, size)
	r.w = copy(nb, r.buf[r.r:r.w])
	r.r = 0
	r.buf = nb
}

// Next parses the next complete command in the buffer. It returns
// ErrIncomplete when more input is needed, a *ProtocolError for malformed
// input (the Reader must not be used after that), or the command's arguments
// (at least one). Empty lines and empty or negative multibulk counts are
// skipped, as in Redis.
func (r *Reader) Next() ([][]byte, error) {
	for {
		if r.want == 0 {
			if r.r == r.w {
				return nil, ErrIncomplete
			}
			if r.buf[r.r] != '*' {
				args, err := r.nextInline()
				if err != nil || args != nil {
					return args, err
				}
				continue
			}
			data := r.buf[r.r:r.w]
			nl, err := countLine(data, "too big mbulk count string")
			if err != nil {
				return nil, err
			}
			n, ok := ParseInt(data[1:nl])
			if !ok || n > maxMultibulk {
				return nil, protoErr("invalid multibulk length")
			}
			if n > UnauthMaxArgs && r.Unauthenticated {
				return nil, protoErr("unauthenticated multibulk length")
			}
			if n <= 0 {
				r.r += nl + 2
				continue
			}
			r.want = int(n)
			r.bulk = -1
			r.pos = nl + 2
			r.offs = r.offs[:0]
		}
		for r.want > 0 {
			data := r.buf[r.r+r.pos : r.w]
			if r.bulk < 0 {
				nl, err := countLine(data, "too big bulk count string")
				if err != nil {
					return nil, err
				}
				if data[0] != '$' {
					return nil, &ProtocolError{msg: "expected '$', got '" + string(data[:1]) + "'"}
				}
				n, ok := ParseInt(data[1:nl])
				if !ok || n < 0 || n > r.MaxBulk {
					return nil, protoErr("invalid bulk length")
				}
				if n > UnauthMaxBulk && r.Unauthenticated {
					return nil, protoErr("unauthenticated bulk length")
				}
				r.bulk = int(n)
				r.pos += nl + 2
				data = data[nl+2:]
			}
			if len(data) < r.bulk+2 {
				return nil, ErrIncomplete
			}
			r.offs = append(r.offs, r.pos, r.pos+r.bulk)
			r.pos += r.bulk + 2 // Redis does not check the CRLF after the data.
			r.bulk = -1
			r.want--
		}
		args := r.args[:0]
		base := r.buf[r.r:]
		for i := 0; i < len(r.offs); i += 2 {
			args = append(args, base[r.offs[i]:r.offs[i+1]:r.offs[i+1]])
		}
		r.args = args
		r.r += r.pos
		r.pos = 0
		r.offs = r.offs[:0]
		return args, nil
	}
}

// nextInline parses an inline command (a line of space-separated words).
// It returns nil, nil for a blank line, which it consumes.
func (r *Reader) nextInline() ([][]byte, error) {
	data := r.buf[r.r:r.w]
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		if len(data) > InlineMaxSize {
			return nil, protoErr("too big inline request")
		}
		return nil, ErrIncomplete
	}
	line := data[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	r.r += nl + 1
	args, inl, offs, ok := splitArgs(line, r.args[:0], r.inline[:0], r.offs[:0])
	r.inline, r.offs = inl, offs[:0]
	if !ok {
		return nil, protoErr("unbalanced quotes in request")
	}
	r.args = args
	if len(args) == 0 {
		return nil, nil
	}
	return args, nil
}

// SplitArgs splits an inline request line into arguments like Redis's
// sdssplitargs: words separated by blanks, "double quotes" with \n \r \t \b
// \a \xHH escapes, 'single quotes' with \' only. ok is false for unbalanced
// quotes or a closing quote not followed by a blank.
func SplitArgs(line []byte) (args [][]byte, ok bool) {
	args, _, _, ok = splitArgs(line, nil, nil, nil)
	return args, ok
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// splitArgs does SplitArgs's work into reusable buffers: arguments are
// accumulated in inl, their bounds in offs, then sliced into args.
func splitArgs(line []byte, args [][]byte, inl []byte, offs []int) ([][]byte, []byte, []int, bool) {
	// sdssplitargs works on a C string: a NUL byte ends the input.
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	p := 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			break
		}
		start := len(inl)
		inq, insq, done := false, false, false
		for !done {
			c := at(p)
			switch {
			case inq:
				switch {
				case c == '\\' && at(p+1) == 'x' && hexVal(at(p+2)) >= 0 && hexVal(at(p+3)) >= 0:
					inl = append(inl, byte(hexVal(at(p+2))*16+hexVal(at(p+3))))
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					e := at(p)
					switch e {
					case 'n':
						e = '\n'
					case 'r':
						e = '\r'
					case 't':
						e = '\t'
					case 'b':
						e = '\b'
					case 'a':
						e = '\a'
					}
					inl = append(inl, e)
				case c == '"':
					if n := at(p + 1); n != 0 && !isSpace(n) {
						return args, inl, offs, false
					}
					done = true
				case c == 0:
					return args, inl, offs, false
				default:
					inl = append(inl, c)
				}
			case insq:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					inl = append(inl, '\'')
				case c == '\'':
					if n := at(p + 1); n != 0 && !isSpace(n) {
						return args, inl, offs, false
					}
					done = true
				case c == 0:
					return args, inl, offs, false
				default:
					inl = append(inl, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					inl = append(inl, c)
				}
			}
			if p < len(line) {
				p++
			}
		}
		offs = append(offs, start, len(inl))
	}
	for i := 0; i < len(offs); i += 2 {
		args = append(args, inl[offs[i]:offs[i+1]:offs[i+1]])
	}
	return args, inl, offs, true
}

// ParseInt parses a decimal int64 exactly like Redis's string2ll: an optional
// '-', no '+', no leading zeros, no blanks, no trailing bytes. Commands use it
// for integer arguments, so "01" or " 1" are not integers, as in Redis.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<64-1)/10 {
			return 0, false
		}
		v *= 10
		d := uint64(c - '0')
		if v > 1<<64-1-d {
			return 0, false
		}
		v += d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// countLine finds the '\r' ending the count line ("*N" or "$N") at the start
// of data. It returns ErrIncomplete until the line and its "\r\n" are
// buffered, and the protocol error tooBig once more than InlineMaxSize bytes
// have come without a '\r', as Redis does.
func countLine(data []byte, tooBig string) (int, error) {
	nl := bytes.IndexByte(data, '\r')
	if nl < 0 {
		if len(data) > InlineMaxSize {
			return 0, protoErr(tooBig)
		}
		return 0, ErrIncomplete
	}
	if nl > len(data)-2 {
		return 0, ErrIncomplete
	}
	return nl, nil
}
