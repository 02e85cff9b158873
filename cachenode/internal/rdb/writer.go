package rdb

import (
	"encoding/binary"
	"io"
	"strconv"
)

// Writer writes an RDB file of string keys to an io.Writer, buffering and
// checksumming as it goes. Call Header once, then SelectDB, then WriteString
// for each key, then Close. The first error sticks: later calls do nothing
// and return it.
type Writer struct {
	w   io.Writer
	buf []byte // pending bytes, not yet in crc
	crc uint64
	n   int64 // bytes written to w
	err error
}

// writeChunk is how many bytes Writer buffers before writing.
const writeChunk = 256 << 10

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, buf: make([]byte, 0, writeChunk+1024)}
}

// Aux is an RDB aux field: a name and a value (written int-encoded when it
// is a canonical integer, as redis-server writes redis-bits and ctime).
type Aux struct{ Key, Value string }

// Header writes the magic and version, then the aux fields in order.
func (w *Writer) Header(aux ...Aux) error {
	w.buf = append(w.buf, magic...)
	w.buf = append(w.buf, '0', '0', '1', '0')
	for _, a := range aux {
		w.buf = append(w.buf, opAux)
		w.buf = appendString(w.buf, []byte(a.Key))
		w.buf = appendString(w.buf, []byte(a.Value))
	}
	return w.flushIfFull()
}

// SelectDB starts database db, with the resize hints size (keys) and
// expires (keys with a TTL), as redis-server writes before a database's keys.
func (w *Writer) SelectDB(db int, size, expires uint64) error {
	w.buf = append(w.buf, opSelectDB)
	w.buf = appendLen(w.buf, uint64(db))
	w.buf = append(w.buf, opResizeDB)
	w.buf = appendLen(w.buf, size)
	w.buf = appendLen(w.buf, expires)
	return w.flushIfFull()
}

// WriteString writes a string key; expireAt is its absolute expiry time in
// Unix milliseconds, 0 for none.
func (w *Writer) WriteString(key, val []byte, expireAt int64) error {
	if expireAt != 0 {
		w.buf = append(w.buf, opExpireTimeMs)
		w.buf = binary.LittleEndian.AppendUint64(w.buf, uint64(expireAt))
	}
	w.buf = append(w.buf, typeString)
	w.buf = appendString(w.buf, key)
	w.buf = appendString(w.buf, val)
	return w.flushIfFull()
}

// Close writes EOF and the checksum and flushes what is buffered. It does
// not close the underlying writer.
func (w *Writer) Close() error {
	w.buf = append(w.buf, opEOF)
	w.flush()
	if w.err != nil {
		return w.err
	}
	w.buf = binary.LittleEndian.AppendUint64(w.buf, w.crc)
	_, w.err = w.w.Write(w.buf)
	w.n += int64(len(w.buf))
	w.buf = w.buf[:0]
	return w.err
}

// Written returns the bytes written to the underlying writer so far.
func (w *Writer) Written() int64 { return w.n }

func (w *Writer) flushIfFull() error {
	if len(w.buf) >= writeChunk {
		w.flush()
	}
	return w.err
}

func (w *Writer) flush() {
	if w.err != nil || len(w.buf) == 0 {
		w.buf = w.buf[:0]
		return
	}
	w.crc = crcUpdate(w.crc, w.buf)
	_, w.err = w.w.Write(w.buf)
	w.n += int64(len(w.buf))
	w.buf = w.buf[:0]
}

// appendLen appends n in RDB length encoding.
func appendLen(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n>>8)|len14Bit<<6, byte(n))
	case n <= 1<<32-1:
		return binary.BigEndian.AppendUint32(append(b, len32Bit), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, len64Bit), n)
}

// appendString appends s as an RDB string: int-encoded when it is the
// canonical decimal form of an int32 (redis-server's rdbTryIntegerEncoding),
// else length-prefixed.
func appendString(b, s []byte) []byte {
	if v, ok := canonicalInt(s); ok {
		switch {
		case v >= -1<<7 && v < 1<<7:
			return append(b, lenEnc<<6|encInt8, byte(v))
		case v >= -1<<15 && v < 1<<15:
			return binary.LittleEndian.AppendUint16(append(b, lenEnc<<6|encInt16), uint16(v))
		case v >= -1<<31 && v < 1<<31:
			return binary.LittleEndian.AppendUint32(append(b, lenEnc<<6|encInt32), uint32(v))
		}
	}
	b = appendLen(b, uint64(len(s)))
	return append(b, s...)
}

// canonicalInt parses s as an integer if formatting the result gives s back
// exactly (no sign on zero, no leading zeros or plus sign, no spaces).
func canonicalInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 11 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, false
	}
	var tmp [24]byte
	return v, string(strconv.AppendInt(tmp[:0], v, 10)) == string(s)
}
