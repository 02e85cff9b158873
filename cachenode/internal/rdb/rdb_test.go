package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

func TestCRC64(t *testing.T) {
	// The check value of redis' crc64 (src/crc64.c's test).
	if got := crcUpdate(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64(123456789) = %016x, want e9c6d914c4b8d9ca", got)
	}
	// Incremental sums equal one sum.
	if a, b := crcUpdate(crcUpdate(0, []byte("1234")), []byte("56789")), crcUpdate(0, []byte("123456789")); a != b {
		t.Fatalf("incremental %016x != %016x", a, b)
	}
}

type kv struct {
	k, v string
	exp  int64
}

func writeFile(t testing.TB, keys []kv) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Header(Aux{"redis-ver", "7.0.15"}, Aux{"redis-bits", "64"}, Aux{"ctime", "1700000000"}, Aux{"used-mem", "1000"}, Aux{"aof-base", "0"})
	var expires uint64
	for _, e := range keys {
		if e.exp != 0 {
			expires++
		}
	}
	w.SelectDB(0, uint64(len(keys)), expires)
	for _, e := range keys {
		if err := w.WriteString([]byte(e.k), []byte(e.v), e.exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Written() != int64(buf.Len()) {
		t.Fatalf("Written %d, buffer %d", w.Written(), buf.Len())
	}
	return buf.Bytes()
}

func readAll(t testing.TB, b []byte) (map[string]kv, *Reader, error) {
	t.Helper()
	r := NewReader(bytes.NewReader(b))
	got := map[string]kv{}
	for {
		e, err := r.Next()
		if err == io.EOF {
			return got, r, nil
		}
		if err != nil {
			return got, r, err
		}
		got[string(e.Key)] = kv{string(e.Key), string(e.Value), e.ExpireAt}
	}
}

func TestRoundTrip(t *testing.T) {
	big := strings.Repeat("x", 3*readChunk+17) // longer than the read buffer
	keys := []kv{
		{"a", "1", 0}, {"b", "-1", 1700000000123}, {"c", "", 0}, {"", "empty key", 0},
		{"int8", "127", 0}, {"int8n", "-128", 0}, {"int16", "32767", 0}, {"int32", "-2147483648", 0},
		{"int64", "9223372036854775807", 0}, {"lead0", "007", 0}, {"plus", "+1", 0}, {"negzero", "-0", 0},
		{"bin\x00\xff", "\x00\x01\x02", 5}, {"big", big, 0},
		{strings.Repeat("k", 70), strings.Repeat("v", 20000), 0}, // 14-bit lengths
	}
	for i := 0; i < 5000; i++ {
		keys = append(keys, kv{fmt.Sprintf("key:%d", i), strings.Repeat("v", i%300), int64(i % 3 * 1700000000000)})
	}
	b := writeFile(t, keys)
	got, r, err := readAll(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version() != 10 || r.Aux()["redis-ver"] != "7.0.15" || r.Aux()["ctime"] != "1700000000" {
		t.Fatalf("version %d aux %v", r.Version(), r.Aux())
	}
	if len(got) != len(keys) {
		t.Fatalf("read %d keys, wrote %d", len(got), len(keys))
	}
	for _, e := range keys {
		if g := got[e.k]; g != e {
			t.Fatalf("key %q: got %q exp %d, want %q exp %d", e.k, trim(g.v), g.exp, trim(e.v), e.exp)
		}
	}
	if len(r.Skipped()) != 0 {
		t.Fatalf("skipped %v", r.Skipped())
	}
	// Canonical int32 values are int-encoded, as redis writes them.
	for _, c := range []struct {
		s   string
		enc []byte
	}{
		{"12", []byte{0xc0, 12}}, {"-5", []byte{0xc0, 0xfb}}, {"1234", []byte{0xc1, 0xd2, 0x04}},
		{"123456789", []byte{0xc2, 0x15, 0xcd, 0x5b, 0x07}}, {"007", []byte{3, '0', '0', '7'}},
		{"12345678901234", append([]byte{14}, "12345678901234"...)},
	} {
		if got := appendString(nil, []byte(c.s)); !bytes.Equal(got, c.enc) {
			t.Errorf("appendString(%q) = %x, want %x", c.s, got, c.enc)
		}
	}
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func TestLengthEncoding(t *testing.T) {
	for _, n := range []uint64{0, 63, 64, 16383, 16384, 1<<32 - 1, 1 << 32, 1<<64 - 1} {
		b := appendLen(nil, n)
		r := NewReader(bytes.NewReader(b))
		got, err := r.length()
		if err != nil || got != n {
			t.Errorf("length %d: got %d, %v (encoded %x)", n, got, err, b)
		}
	}
}

// TestReadRedisFile reads a file written by redis-server 7.0.15 (see
// testdata/README.md).
func TestReadRedisFile(t *testing.T) {
	b, err := os.ReadFile("testdata/redis-7.0.15.rdb")
	if err != nil {
		t.Fatal(err)
	}
	got, r, err := readAll(t, b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"plain": "hello", "int8": "12", "int16": "1234", "int32": "123456789", "neg": "-5",
		"notcanon": "007", "bigint": "12345678901234", "empty": "", "long": strings.Repeat("abcdefghij", 50),
		"ttlkey": "withttl", "after": "last",
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g.v != v {
			t.Errorf("key %q = %q (present %v), want %q", k, trim(g.v), ok, trim(v))
		}
	}
	if got["ttlkey"].exp == 0 || got["plain"].exp != 0 {
		t.Errorf("expiry: ttlkey %d, plain %d", got["ttlkey"].exp, got["plain"].exp)
	}
	wantSkipped := map[string]int{"list": 2, "set": 3, "hash": 2, "zset": 2, "stream": 1, "function": 1}
	if fmt.Sprint(r.Skipped()) != fmt.Sprint(wantSkipped) {
		t.Errorf("skipped %v, want %v", r.Skipped(), wantSkipped)
	}
	if r.Aux()["redis-ver"] != "7.0.15" || r.Version() != 10 {
		t.Errorf("aux %v version %d", r.Aux(), r.Version())
	}
}

func TestCorruptAndTruncated(t *testing.T) {
	files := map[string][]byte{"writer": writeFile(t, []kv{{"a", "1", 0}, {"b", strings.Repeat("z", 300), 99}})}
	if b, err := os.ReadFile("testdata/redis-7.0.15.rdb"); err == nil {
		files["redis"] = b
	}
	for name, b := range files {
		// Every truncation is an error wrapping ErrCorrupt.
		for n := 0; n < len(b); n++ {
			_, _, err := readAll(t, b[:n])
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s truncated to %d bytes: err %v, want ErrCorrupt", name, n, err)
			}
		}
		// A flipped byte in the data is caught (by the checksum at worst).
		for _, at := range []int{20, len(b) / 2, len(b) - 10} {
			c := bytes.Clone(b)
			c[at] ^= 0x5a
			if _, _, err := readAll(t, c); err == nil {
				t.Errorf("%s with byte %d flipped: no error", name, at)
			}
		}
		// A zero checksum disables the check, as in Redis.
		c := bytes.Clone(b)
		binary.LittleEndian.PutUint64(c[len(c)-8:], 0)
		if _, _, err := readAll(t, c); err != nil {
			t.Errorf("%s with checksum 0: %v", name, err)
		}
	}
}

func TestBadInputs(t *testing.T) {
	hdr := []byte("REDIS0010")
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"not rdb", []byte("HELLO0010\xff"), ErrCorrupt},
		{"version 11", []byte("REDIS0011\xff"), ErrUnsupported},
		{"version 0", []byte("REDIS0000\xff"), ErrUnsupported},
		{"bad version", []byte("REDIS00x0\xff"), ErrCorrupt},
		{"unknown type", append(hdr, 99), ErrCorrupt},
		{"module pre-GA", append(hdr, typeModulePreGA, 1), ErrUnsupported},
		{"function pre-GA", append(hdr, opFunctionPreGA, 1), ErrUnsupported},
		{"huge string", append(hdr, typeString, 1, 'k', 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), ErrCorrupt},
		{"huge string 32", append(hdr, typeString, 1, 'k', 0x80, 0x1f, 0xff, 0xff, 0xff), ErrCorrupt},
		{"lzf overclaim", append(hdr, typeString, 1, 'k', 0xc3, 2, 0x80, 0xff, 0xff, 0xff, 0, 'a'), ErrCorrupt},
		{"lzf bad ref", append(hdr, typeString, 1, 'k', 0xc3, 2, 4, 0x20, 0x00), ErrCorrupt},
		{"huge list", append(hdr, typeList, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), ErrCorrupt},
		{"bad encoding", append(hdr, typeString, 0xc7), ErrCorrupt},
	} {
		_, _, err := readAll(t, c.b)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func TestLZF(t *testing.T) {
	// "aaaaaaaaaa": literal 'a', then a back reference of 7+0+2 at distance 1.
	out := make([]byte, 10)
	if err := lzfDecompress([]byte{0, 'a', 7 << 5, 0, 0}, out); err != nil || string(out) != "aaaaaaaaaa" {
		t.Fatalf("got %q %v", out, err)
	}
	if err := lzfDecompress([]byte{0, 'a', 7 << 5, 0, 0}, make([]byte, 11)); err == nil {
		t.Fatal("a declared length longer than the output accepted")
	}
	if err := lzfDecompress([]byte{0, 'a', 7 << 5, 0, 0}, make([]byte, 9)); err == nil {
		t.Fatal("output overrun accepted")
	}
	if err := lzfDecompress([]byte{0, 'a', 6 << 5, 0}, out[:9]); err != nil || string(out[:9]) != "aaaaaaaaa" {
		t.Fatalf("got %q %v", out, err)
	}
}

// TestSyntheticOpcodes reads constructs the redis-server file does not
// hold: EXPIRETIME in seconds, FREQ and IDLE, a second database, module
// aux data and a MODULE_2 value, the older list, set, zset and hash
// encodings, a file of RDB version 9 and one without a checksum (version 4).
func TestSyntheticOpcodes(t *testing.T) {
	str := func(s string) []byte { return appendString(nil, []byte(s)) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	body := cat(
		[]byte{opModuleAux}, appendLen(nil, 0x1234567890), []byte{moduleOpUInt}, appendLen(nil, 2), // id, when_opcode, when
		[]byte{moduleOpSInt}, appendLen(nil, 5), []byte{moduleOpString}, str("aux"), []byte{moduleOpFloat, 0, 0, 0, 0},
		[]byte{moduleOpDouble, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{moduleOpEOF},
		[]byte{opSelectDB, 0},
		[]byte{opExpireTime, 0x00, 0xf1, 0x53, 0x65}, []byte{typeString}, str("secs"), str("v"), // 1700000000 s
		[]byte{opFreq, 7, opIdle}, appendLen(nil, 100), []byte{typeString}, str("lfu"), str("v"),
		[]byte{opExpireTimeMs, 1, 0, 0, 0, 0, 0, 0, 0, typeList}, str("list"), appendLen(nil, 2), str("a"), str("b"),
		[]byte{typeSet}, str("set"), appendLen(nil, 1), str("m"),
		[]byte{typeZSet}, str("zset"), appendLen(nil, 2), str("a"), []byte{3, '1', '.', '5'}, str("b"), []byte{254},
		[]byte{typeZSet2}, str("zset2"), appendLen(nil, 1), str("a"), []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f},
		[]byte{typeHash}, str("hash"), appendLen(nil, 1), str("f"), str("v"),
		[]byte{typeListQuicklist}, str("ql"), appendLen(nil, 1), str("ziplist-bytes"),
		[]byte{typeListQuicklist2}, str("ql2"), appendLen(nil, 1), appendLen(nil, 2), str("listpack-bytes"),
		[]byte{typeHashListpack}, str("hlp"), str("listpack"),
		[]byte{typeModule2}, str("mod"), appendLen(nil, 42), []byte{moduleOpUInt}, appendLen(nil, 9), []byte{moduleOpEOF},
		[]byte{opExpireTimeMs, 1, 0, 0, 0, 0, 0, 0, 0, typeString}, str("after"), str("x"), // the list's expiry did not stick
		[]byte{opSelectDB, 1, opResizeDB, 1, 0, typeString}, str("db1"), str("v"),
		[]byte{opEOF},
	)
	for _, v := range []string{"0009", "0004"} {
		b := cat([]byte("REDIS"+v), body)
		if v == "0009" {
			b = binary.LittleEndian.AppendUint64(b, crcUpdate(0, b))
		}
		r := NewReader(bytes.NewReader(b))
		var got []string
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("version %s: %v", v, err)
			}
			got = append(got, fmt.Sprintf("%s=%s@%d/db%d", e.Key, e.Value, e.ExpireAt, e.DB))
		}
		want := "secs=v@1700000000000/db0 lfu=v@0/db0 after=x@1/db0 db1=v@0/db1"
		if strings.Join(got, " ") != want {
			t.Errorf("version %s: got %v, want %s", v, got, want)
		}
		wantSkipped := map[string]int{"module-aux": 1, "list": 3, "set": 1, "zset": 2, "hash": 2, "module": 1}
		if fmt.Sprint(r.Skipped()) != fmt.Sprint(wantSkipped) {
			t.Errorf("version %s: skipped %v, want %v", v, r.Skipped(), wantSkipped)
		}
	}
}
