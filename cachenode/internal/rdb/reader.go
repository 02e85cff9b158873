package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// MaxStringLen bounds a single string in a file Reader accepts: Redis's
// default proto-max-bulk-len (512 MB), the most a value can hold.
const MaxStringLen = 512 << 20

// ErrCorrupt is wrapped by the errors Reader returns for data that is not a
// valid RDB file (bad magic, bad encoding, truncated, checksum mismatch).
var ErrCorrupt = errors.New("rdb: corrupt file")

// ErrUnsupported is wrapped by the errors Reader returns for valid data it
// cannot read or skip (a newer RDB version, a pre-release module value).
var ErrUnsupported = errors.New("rdb: unsupported content")

// Entry is a string key read from an RDB file.
type Entry struct {
	Key, Value []byte
	// ExpireAt is the key's absolute expiry time in Unix milliseconds; 0
	// means none.
	ExpireAt int64
	// DB is the database the key belongs to (SELECTDB).
	DB int
}

// Reader reads an RDB file from an io.Reader, one string key at a time.
type Reader struct {
	r    io.Reader
	buf  []byte
	p, n int   // unread bytes are buf[p:n]
	c    int   // buf[:c] is summed in crc
	off  int64 // file offset of buf[0]
	crc  uint64
	rerr error // the underlying reader's error, once seen

	version int
	started bool
	done    bool
	db      int

	aux     map[string]string
	skipped map[string]int
	scratch []byte
}

const readChunk = 256 << 10

// NewReader returns a Reader on r. It reads the header on the first call to
// Next.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, buf: make([]byte, readChunk), aux: map[string]string{}, skipped: map[string]int{}}
}

// Version returns the file's RDB version (0 before the header is read).
func (r *Reader) Version() int { return r.version }

// Aux returns the aux fields read so far (redis-ver, ctime, ...). The map
// belongs to the Reader.
func (r *Reader) Aux() map[string]string { return r.aux }

// Skipped returns how many keys of each type other than string were skipped
// ("list", "hash", ...), plus "function" for function libraries and
// "module-aux" for module aux data. The map belongs to the Reader.
func (r *Reader) Skipped() map[string]int { return r.skipped }

// Offset returns how many bytes of the file have been consumed.
func (r *Reader) Offset() int64 { return r.off + int64(r.p) }

// Next returns the next string key. Its Key and Value are valid until the
// next call (they may point into the Reader's buffer). At the end of the
// file, after the checksum is verified, it returns io.EOF; any other error
// wraps ErrCorrupt or ErrUnsupported (or is the underlying reader's) and
// ends the read.
func (r *Reader) Next() (Entry, error) {
	if r.done {
		return Entry{}, io.EOF
	}
	if !r.started {
		if err := r.header(); err != nil {
			return Entry{}, err
		}
		r.started = true
	}
	var expireAt int64
	for {
		t, err := r.byte()
		if err != nil {
			return Entry{}, err
		}
		switch t {
		case opExpireTimeMs:
			b, err := r.bytes(8)
			if err != nil {
				return Entry{}, err
			}
			expireAt = int64(binary.LittleEndian.Uint64(b))
			continue
		case opExpireTime:
			b, err := r.bytes(4)
			if err != nil {
				return Entry{}, err
			}
			expireAt = int64(int32(binary.LittleEndian.Uint32(b))) * 1000
			continue
		case opFreq:
			if _, err := r.byte(); err != nil {
				return Entry{}, err
			}
			continue
		case opIdle:
			if _, err := r.length(); err != nil {
				return Entry{}, err
			}
			continue
		case opSelectDB:
			db, err := r.length()
			if err != nil {
				return Entry{}, err
			}
			if db > math.MaxInt32 {
				return Entry{}, r.corrupt("SELECTDB %d out of range", db)
			}
			r.db = int(db)
			continue
		case opResizeDB:
			if _, err := r.length(); err != nil {
				return Entry{}, err
			}
			if _, err := r.length(); err != nil {
				return Entry{}, err
			}
			continue
		case opAux:
			k, err := r.stringCopy()
			if err != nil {
				return Entry{}, err
			}
			v, err := r.string()
			if err != nil {
				return Entry{}, err
			}
			r.aux[string(k)] = string(v)
			continue
		case opModuleAux:
			if err := r.skipModuleAux(); err != nil {
				return Entry{}, err
			}
			r.skipped["module-aux"]++
			continue
		case opFunction2:
			if err := r.skipString(); err != nil {
				return Entry{}, err
			}
			r.skipped["function"]++
			continue
		case opFunctionPreGA:
			return Entry{}, fmt.Errorf("%w: a function library in the format of redis 7.0 release candidates (offset %d)", ErrUnsupported, r.Offset()-1)
		case opEOF:
			return Entry{}, r.trailer()
		case typeString:
			k, err := r.stringCopy()
			if err != nil {
				return Entry{}, err
			}
			v, err := r.string()
			if err != nil {
				return Entry{}, err
			}
			return Entry{Key: k, Value: v, ExpireAt: expireAt, DB: r.db}, nil
		}
		if TypeName(t) == "unknown" {
			return Entry{}, r.corrupt("unknown value type %d", t)
		}
		if t == typeModulePreGA {
			return Entry{}, fmt.Errorf("%w: a module value in the pre-release format (type 6) at offset %d cannot be skipped without its module", ErrUnsupported, r.Offset()-1)
		}
		if err := r.skipString(); err != nil { // the key
			return Entry{}, err
		}
		if err := r.skipValue(t); err != nil {
			return Entry{}, err
		}
		r.skipped[TypeName(t)]++
		expireAt = 0
	}
}

func (r *Reader) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s (offset %d)", ErrCorrupt, fmt.Sprintf(format, args...), r.Offset())
}

func (r *Reader) header() error {
	b, err := r.bytes(9)
	if err != nil {
		return err
	}
	if string(b[:5]) != magic {
		return fmt.Errorf("%w: not an RDB file (no REDIS magic)", ErrCorrupt)
	}
	for _, d := range b[5:] {
		if d < '0' || d > '9' {
			return fmt.Errorf("%w: bad RDB version %q", ErrCorrupt, b[5:])
		}
	}
	v, _ := strconv.Atoi(string(b[5:]))
	if v < 1 || v > Version {
		return fmt.Errorf("%w: RDB version %d (this reader reads 1 to %d, what redis-server 7.0 writes)", ErrUnsupported, v, Version)
	}
	r.version = v
	return nil
}

// trailer verifies the checksum after EOF (RDB 5 and later).
func (r *Reader) trailer() error {
	if r.version >= 5 {
		r.sum()
		want := r.crc
		b, err := r.bytes(8)
		if err != nil {
			return err
		}
		got := binary.LittleEndian.Uint64(b)
		if got != 0 && got != want {
			return fmt.Errorf("%w: checksum mismatch (file %016x, computed %016x)", ErrCorrupt, got, want)
		}
	}
	r.done = true
	return io.EOF
}

// sum adds the consumed bytes not yet summed to the checksum.
func (r *Reader) sum() {
	if r.p > r.c {
		r.crc = crcUpdate(r.crc, r.buf[r.c:r.p])
		r.c = r.p
	}
}

// fill makes at least k bytes (k <= len(buf)) available in buf[p:n], or
// returns an error: a truncated file is ErrCorrupt.
func (r *Reader) fill(k int) error {
	if r.n-r.p >= k {
		return nil
	}
	r.sum()
	copy(r.buf, r.buf[r.p:r.n])
	r.off += int64(r.p)
	r.n -= r.p
	r.p, r.c = 0, 0
	for r.n < k {
		if r.rerr != nil {
			if r.rerr == io.EOF || r.rerr == io.ErrUnexpectedEOF {
				return fmt.Errorf("%w: unexpected end of file (truncated) at offset %d", ErrCorrupt, r.off+int64(r.n))
			}
			return r.rerr
		}
		m, err := r.r.Read(r.buf[r.n:])
		r.n += m
		if err != nil {
			r.rerr = err
		}
	}
	return nil
}

func (r *Reader) byte() (byte, error) {
	if r.p >= r.n {
		if err := r.fill(1); err != nil {
			return 0, err
		}
	}
	b := r.buf[r.p]
	r.p++
	return b, nil
}

// bytes returns the next k bytes, k <= len(buf); valid until the next read.
func (r *Reader) bytes(k int) ([]byte, error) {
	if err := r.fill(k); err != nil {
		return nil, err
	}
	b := r.buf[r.p : r.p+k]
	r.p += k
	return b, nil
}

// discard skips k bytes.
func (r *Reader) discard(k uint64) error {
	for k > 0 {
		if r.p == r.n {
			if err := r.fill(1); err != nil {
				return err
			}
		}
		m := min(uint64(r.n-r.p), k)
		r.p += int(m)
		k -= m
	}
	return nil
}

// readInto reads k bytes into a new slice appended to dst, growing it only
// as the bytes arrive (so a bad length cannot make it allocate ahead).
func (r *Reader) readInto(dst []byte, k uint64) ([]byte, error) {
	for k > 0 {
		if r.p == r.n {
			if err := r.fill(1); err != nil {
				return nil, err
			}
		}
		m := min(uint64(r.n-r.p), k)
		dst = append(dst, r.buf[r.p:r.p+int(m)]...)
		r.p += int(m)
		k -= m
	}
	return dst, nil
}

// lengthOrEnc reads a length, or a special encoding (enc true, n its kind).
func (r *Reader) lengthOrEnc() (n uint64, enc bool, err error) {
	b, err := r.byte()
	if err != nil {
		return 0, false, err
	}
	switch b >> 6 {
	case len6Bit:
		return uint64(b & 0x3f), false, nil
	case len14Bit:
		b2, err := r.byte()
		if err != nil {
			return 0, false, err
		}
		return uint64(b&0x3f)<<8 | uint64(b2), false, nil
	case lenEnc:
		return uint64(b & 0x3f), true, nil
	}
	switch b {
	case len32Bit:
		x, err := r.bytes(4)
		if err != nil {
			return 0, false, err
		}
		return uint64(binary.BigEndian.Uint32(x)), false, nil
	case len64Bit:
		x, err := r.bytes(8)
		if err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(x), false, nil
	}
	return 0, false, r.corrupt("unknown length encoding 0x%02x", b)
}

func (r *Reader) length() (uint64, error) {
	n, enc, err := r.lengthOrEnc()
	if err == nil && enc {
		err = r.corrupt("a string encoding where a length was expected")
	}
	return n, err
}

// string reads a string in any encoding. The result is valid until the next
// read (it may point into the Reader's buffer or scratch space).
func (r *Reader) string() ([]byte, error) {
	return r.stringTo(nil, false)
}

// stringCopy reads a string into a slice of its own, which later reads do
// not overwrite.
func (r *Reader) stringCopy() ([]byte, error) {
	return r.stringTo(nil, true)
}

// stringTo reads a string. With own, the result never points into the read
// buffer (which the next read may overwrite).
func (r *Reader) stringTo(dst []byte, own bool) ([]byte, error) {
	n, enc, err := r.lengthOrEnc()
	if err != nil {
		return nil, err
	}
	if enc {
		switch n {
		case encInt8:
			b, err := r.byte()
			if err != nil {
				return nil, err
			}
			return strconv.AppendInt(dst, int64(int8(b)), 10), nil
		case encInt16:
			b, err := r.bytes(2)
			if err != nil {
				return nil, err
			}
			return strconv.AppendInt(dst, int64(int16(binary.LittleEndian.Uint16(b))), 10), nil
		case encInt32:
			b, err := r.bytes(4)
			if err != nil {
				return nil, err
			}
			return strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(b))), 10), nil
		case encLZF:
			return r.lzfString(dst)
		}
		return nil, r.corrupt("unknown string encoding %d", n)
	}
	if n > MaxStringLen {
		return nil, r.corrupt("string of %d bytes, over the %d-byte limit", n, MaxStringLen)
	}
	if !own && n <= uint64(len(r.buf)/2) {
		return r.bytes(int(n))
	}
	return r.readInto(dst, n)
}

// lzfString reads an LZF-compressed string: compressed length, length,
// compressed bytes.
func (r *Reader) lzfString(dst []byte) ([]byte, error) {
	clen, err := r.length()
	if err != nil {
		return nil, err
	}
	ulen, err := r.length()
	if err != nil {
		return nil, err
	}
	if clen > MaxStringLen || ulen > MaxStringLen {
		return nil, r.corrupt("compressed string of %d/%d bytes, over the %d-byte limit", clen, ulen, MaxStringLen)
	}
	// Each 2-3 byte back reference expands to at most 264 bytes: a longer
	// claimed length is corrupt, and checking it first bounds the output
	// allocation by the compressed bytes actually read.
	if ulen > clen*132+32 {
		return nil, r.corrupt("compressed string claims %d bytes from %d", ulen, clen)
	}
	r.scratch, err = r.readInto(r.scratch[:0], clen)
	if err != nil {
		return nil, err
	}
	start := len(dst)
	dst = append(dst, make([]byte, ulen)...)
	if err := lzfDecompress(r.scratch, dst[start:]); err != nil {
		return nil, r.corrupt("%v", err)
	}
	return dst, nil
}

func (r *Reader) skipString() error {
	n, enc, err := r.lengthOrEnc()
	if err != nil {
		return err
	}
	if enc {
		switch n {
		case encInt8:
			return r.discard(1)
		case encInt16:
			return r.discard(2)
		case encInt32:
			return r.discard(4)
		case encLZF:
			clen, err := r.length()
			if err != nil {
				return err
			}
			if _, err := r.length(); err != nil {
				return err
			}
			return r.discard(clen)
		}
		return r.corrupt("unknown string encoding %d", n)
	}
	return r.discard(n)
}

// skipStrings skips n strings.
func (r *Reader) skipStrings(n uint64) error {
	for ; n > 0; n-- {
		if err := r.skipString(); err != nil {
			return err
		}
	}
	return nil
}

// skipValue skips a value of type t (not a string).
func (r *Reader) skipValue(t byte) error {
	switch t {
	case typeList, typeSet, typeListQuicklist:
		n, err := r.length()
		if err != nil {
			return err
		}
		return r.skipStrings(n)
	case typeHash:
		n, err := r.length()
		if err != nil {
			return err
		}
		if n > math.MaxUint64/2 {
			return r.corrupt("hash of %d fields", n)
		}
		return r.skipStrings(2 * n)
	case typeZSet:
		n, err := r.length()
		if err != nil {
			return err
		}
		for ; n > 0; n-- {
			if err := r.skipString(); err != nil {
				return err
			}
			l, err := r.byte() // a double as text: 253 nan, 254 +inf, 255 -inf
			if err != nil {
				return err
			}
			if l < 253 {
				if err := r.discard(uint64(l)); err != nil {
					return err
				}
			}
		}
		return nil
	case typeZSet2:
		n, err := r.length()
		if err != nil {
			return err
		}
		for ; n > 0; n-- {
			if err := r.skipString(); err != nil {
				return err
			}
			if err := r.discard(8); err != nil {
				return err
			}
		}
		return nil
	case typeHashZipmap, typeListZiplist, typeSetIntset, typeZSetZiplist, typeHashZiplist, typeHashListpack, typeZSetListpack:
		return r.skipString() // one blob
	case typeListQuicklist2:
		n, err := r.length()
		if err != nil {
			return err
		}
		for ; n > 0; n-- {
			if _, err := r.length(); err != nil { // container: plain or packed
				return err
			}
			if err := r.skipString(); err != nil {
				return err
			}
		}
		return nil
	case typeStreamListpacks, typeStreamListpacks2:
		return r.skipStream(t)
	case typeModule2:
		if _, err := r.length(); err != nil { // module id
			return err
		}
		return r.skipModuleValue()
	}
	return r.corrupt("unknown value type %d", t)
}

func (r *Reader) skipLengths(k int) error {
	for ; k > 0; k-- {
		if _, err := r.length(); err != nil {
			return err
		}
	}
	return nil
}

// skipStream skips a stream (RDB_TYPE_STREAM_LISTPACKS and _2), following
// rdbLoadObject.
func (r *Reader) skipStream(t byte) error {
	n, err := r.length() // listpacks
	if err != nil {
		return err
	}
	if err := r.skipStrings(2 * min(n, math.MaxUint64/2)); err != nil { // node key, listpack
		return err
	}
	meta := 3 // length, last id ms, seq
	if t == typeStreamListpacks2 {
		meta += 5 // first id, max deleted id, entries added
	}
	if err := r.skipLengths(meta); err != nil {
		return err
	}
	groups, err := r.length()
	if err != nil {
		return err
	}
	for ; groups > 0; groups-- {
		if err := r.skipString(); err != nil { // name
			return err
		}
		k := 2 // last id
		if t == typeStreamListpacks2 {
			k++ // entries read
		}
		if err := r.skipLengths(k); err != nil {
			return err
		}
		pel, err := r.length()
		if err != nil {
			return err
		}
		for ; pel > 0; pel-- {
			if err := r.discard(16 + 8); err != nil { // id, delivery time
				return err
			}
			if _, err := r.length(); err != nil { // delivery count
				return err
			}
		}
		consumers, err := r.length()
		if err != nil {
			return err
		}
		for ; consumers > 0; consumers-- {
			if err := r.skipString(); err != nil { // name
				return err
			}
			if err := r.discard(8); err != nil { // seen time
				return err
			}
			pel, err := r.length()
			if err != nil {
				return err
			}
			for ; pel > 0; pel-- {
				if err := r.discard(16); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// skipModuleValue skips the opcode-annotated data of a MODULE_2 value or
// MODULE_AUX, up to its EOF opcode.
func (r *Reader) skipModuleValue() error {
	for {
		op, err := r.length()
		if err != nil {
			return err
		}
		switch op {
		case moduleOpEOF:
			return nil
		case moduleOpSInt, moduleOpUInt:
			_, err = r.length()
		case moduleOpFloat:
			err = r.discard(4)
		case moduleOpDouble:
			err = r.discard(8)
		case moduleOpString:
			err = r.skipString()
		default:
			return r.corrupt("unknown module value opcode %d", op)
		}
		if err != nil {
			return err
		}
	}
}

func (r *Reader) skipModuleAux() error {
	if _, err := r.length(); err != nil { // module id
		return err
	}
	whenOp, err := r.length()
	if err != nil {
		return err
	}
	if whenOp != moduleOpUInt {
		return r.corrupt("bad module aux when_opcode %d", whenOp)
	}
	if _, err := r.length(); err != nil { // when
		return err
	}
	return r.skipModuleValue()
}
