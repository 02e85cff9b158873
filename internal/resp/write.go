// Package resp encodes and decodes the Redis serialization protocol (RESP2
// and RESP3) for cachenode.
//
// Encoding is append-style, like strconv.AppendInt: every Append function
// appends one reply to dst and returns the extended slice; the caller owns dst.
// Functions whose encoding differs between protocol versions take the
// connection's protocol version (2 or 3) and fall back to the RESP2 type Redis
// 7 uses for the same reply.
//
// Decoding is done by Reader, which parses multibulk and inline commands out
// of a per-connection buffer with Redis 7's limits and error texts.
package resp

import (
	"math"
	"strconv"
)

// AppendSimple appends a simple string reply (+s). s must not contain CR or LF.
func AppendSimple(dst []byte, s string) []byte {
	dst = append(dst, '+')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendOK appends the simple string +OK.
func AppendOK(dst []byte) []byte { return append(dst, "+OK\r\n"...) }

// AppendError appends an error reply. msg is the text after the '-', starting
// with the error code ("ERR syntax error", "WRONGTYPE ..."). CR and LF in msg
// are replaced with spaces, as Redis does, so the reply stays one line.
func AppendError(dst []byte, msg string) []byte {
	dst = append(dst, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return append(dst, '\r', '\n')
}

// AppendInt appends an integer reply (:n).
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// AppendBulk appends a bulk string reply ($len b).
func AppendBulk(dst, b []byte) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkString appends a bulk string reply holding s.
func AppendBulkString(dst []byte, s string) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendBulkInt appends n formatted in decimal as a bulk string.
func AppendBulkInt(dst []byte, n int64) []byte {
	var tmp [20]byte
	return AppendBulk(dst, strconv.AppendInt(tmp[:0], n, 10))
}

// AppendNull appends a null reply: $-1 in RESP2, _ in RESP3.
func AppendNull(dst []byte, proto int) []byte {
	if proto >= 3 {
		return append(dst, "_\r\n"...)
	}
	return append(dst, "$-1\r\n"...)
}

// AppendNullArray appends a null array reply: *-1 in RESP2, _ in RESP3.
func AppendNullArray(dst []byte, proto int) []byte {
	if proto >= 3 {
		return append(dst, "_\r\n"...)
	}
	return append(dst, "*-1\r\n"...)
}

func appendHeader(dst []byte, c byte, n int) []byte {
	dst = append(dst, c)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

// AppendArrayLen appends the header of an array of n elements (*n); the
// caller then appends the n elements.
func AppendArrayLen(dst []byte, n int) []byte { return appendHeader(dst, '*', n) }

// AppendPushLen appends a RESP3 push header for n elements (">n"): an
// out-of-band message such as a client-tracking invalidation. Only RESP3
// connections may receive one.
func AppendPushLen(dst []byte, n int) []byte { return appendHeader(dst, '>', n) }

// AppendMapLen appends the header of a map of n key/value pairs: %n in RESP3,
// an array of 2n elements in RESP2. The caller appends 2n elements.
func AppendMapLen(dst []byte, n int, proto int) []byte {
	if proto >= 3 {
		return appendHeader(dst, '%', n)
	}
	return appendHeader(dst, '*', 2*n)
}

// AppendSetLen appends the header of a set of n elements: ~n in RESP3, *n in
// RESP2.
func AppendSetLen(dst []byte, n int, proto int) []byte {
	if proto >= 3 {
		return appendHeader(dst, '~', n)
	}
	return appendHeader(dst, '*', n)
}

// AppendDouble appends a double reply: ,f in RESP3, a bulk string in RESP2.
// The text is Redis's %.17g formatting with "inf", "-inf" and "nan".
func AppendDouble(dst []byte, f float64, proto int) []byte {
	var tmp [32]byte
	var s []byte
	switch {
	case math.IsInf(f, 1):
		s = append(tmp[:0], "inf"...)
	case math.IsInf(f, -1):
		s = append(tmp[:0], "-inf"...)
	case math.IsNaN(f):
		s = append(tmp[:0], "nan"...)
	default:
		s = strconv.AppendFloat(tmp[:0], f, 'g', 17, 64)
	}
	if proto >= 3 {
		dst = append(dst, ',')
		dst = append(dst, s...)
		return append(dst, '\r', '\n')
	}
	return AppendBulk(dst, s)
}

// AppendBool appends a boolean reply: #t/#f in RESP3, :1/:0 in RESP2.
func AppendBool(dst []byte, b bool, proto int) []byte {
	if proto >= 3 {
		if b {
			return append(dst, "#t\r\n"...)
		}
		return append(dst, "#f\r\n"...)
	}
	if b {
		return append(dst, ":1\r\n"...)
	}
	return append(dst, ":0\r\n"...)
}

// AppendVerbatim appends a verbatim string reply (=len format:s) in RESP3,
// a bulk string in RESP2. format is a three-letter type such as "txt".
func AppendVerbatim(dst []byte, format string, s []byte, proto int) []byte {
	if proto < 3 {
		return AppendBulk(dst, s)
	}
	dst = append(dst, '=')
	dst = strconv.AppendInt(dst, int64(len(s)+len(format)+1), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, format...)
	dst = append(dst, ':')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}
