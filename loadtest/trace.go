package loadtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// TraceRequest is one request of a replayed trace: an object and, if the
// trace says, its size in bytes (0: the replay picks one per object).
type TraceRequest struct {
	ID   uint64
	Size uint32
}

// TraceClasses are the generated trace classes ReplayConfig.Trace accepts.
var TraceClasses = []string{"zipf", "scan", "shift"}

// ErrTrace is returned (wrapped, with the line or record) for a malformed
// trace file.
var ErrTrace = errors.New("loadtest: malformed trace")

// maxTraceSize bounds an object size read from a trace file; larger sizes
// are clamped to it.
const maxTraceSize = 1 << 20

// maxTraceLine bounds a line of a text trace.
const maxTraceLine = 64 << 10

// ReadTextTrace reads a text trace of at most max requests (0: all): one
// request per line, the key and optionally its size in bytes separated by
// white space ("user:42" or "user:42 730"). Empty lines and lines starting
// with '#' are skipped. Keys are numbered in order of first appearance.
func ReadTextTrace(r io.Reader, max int) ([]TraceRequest, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxTraceLine)
	ids := map[string]uint64{}
	var out []TraceRequest
	line := 0
	for sc.Scan() && (max <= 0 || len(out) < max) {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) > 2 {
			return nil, fmt.Errorf("%w: line %d: want KEY [SIZE], got %d fields", ErrTrace, line, len(f))
		}
		var size uint32
		if len(f) == 2 {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("%w: line %d: size %q is not a positive integer", ErrTrace, line, f[1])
			}
			size = uint32(min(n, maxTraceSize))
		}
		id, ok := ids[f[0]]
		if !ok {
			id = uint64(len(ids))
			ids[f[0]] = id
		}
		out = append(out, TraceRequest{ID: id, Size: size})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrTrace, line+1, err)
	}
	return out, nil
}

// oracleRecord is the size of a libCacheSim oracleGeneral record.
const oracleRecord = 24

// ReadOracleGeneral reads at most max requests (0: all) of a trace in
// libCacheSim's oracleGeneral binary format: packed little-endian 24-byte
// records {uint32 timestamp; uint64 obj_id; uint32 obj_size; int64
// next_access_vtime}. As libCacheSim does, records of size 0 are skipped;
// the timestamp and next access are not used. A trailing partial record is
// an error.
func ReadOracleGeneral(r io.Reader, max int) ([]TraceRequest, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var rec [oracleRecord]byte
	var out []TraceRequest
	for n := 0; max <= 0 || len(out) < max; n++ {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			if err == io.EOF {
				break
			}
			return nil, fmt.Errorf("%w: record %d: %v", ErrTrace, n, err)
		}
		size := binary.LittleEndian.Uint32(rec[12:])
		if size == 0 {
			continue
		}
		out = append(out, TraceRequest{ID: binary.LittleEndian.Uint64(rec[4:]), Size: min(size, maxTraceSize)})
	}
	return out, nil
}

// AppendOracleGeneral appends reqs to dst as oracleGeneral records
// (timestamp i, next access -1), for tests and for converting traces.
func AppendOracleGeneral(dst []byte, reqs []TraceRequest) []byte {
	for i, q := range reqs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(i))
		dst = binary.LittleEndian.AppendUint64(dst, q.ID)
		dst = binary.LittleEndian.AppendUint32(dst, q.Size)
		dst = binary.LittleEndian.AppendUint64(dst, math.MaxUint64) // -1
	}
	return dst
}

// DefaultScanShare is the share of a generated scan trace's requests that
// scans make up, when not given.
const DefaultScanShare = 0.3

// zipfGen draws ranks 0..n-1 with P(rank k) proportional to 1/(k+1)^s, for
// any s > 0 (math/rand's Zipf needs s > 1), by inverting the CDF.
type zipfGen struct {
	r   *rand.Rand
	cdf []float64
}

func newZipfGen(r *rand.Rand, s float64, n int) *zipfGen {
	cdf := make([]float64, n)
	sum := 0.0
	for i := range cdf {
		sum += math.Pow(float64(i+1), -s)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return &zipfGen{r: r, cdf: cdf}
}

func (z *zipfGen) next() int {
	i, _ := slices.BinarySearch(z.cdf, z.r.Float64())
	return min(i, len(z.cdf)-1)
}

// GenerateTrace returns n requests of a trace class over keys objects,
// reproducible from seed:
//
//   - zipf: Zipf(s) popularity over the keys, the popular ones scattered
//     over the key space.
//   - scan: the same, interrupted by scans of keys/4 objects requested that
//     once only: Zipf requests, a scan, and so on, the scans making up
//     scanShare of the requests (0: DefaultScanShare).
//   - shift: Zipf(s) popularity whose ranking rotates by keys/20 every n/10
//     requests: the hottest keys give way to keys that were lukewarm.
func GenerateTrace(class string, n, keys int, s, scanShare float64, seed uint64) ([]TraceRequest, error) {
	if n <= 0 || keys <= 0 || s <= 0 {
		return nil, fmt.Errorf("loadtest: trace: need requests, keys and zipf > 0 (got %d, %d, %g)", n, keys, s)
	}
	if scanShare == 0 {
		scanShare = DefaultScanShare
	}
	if scanShare < 0 || scanShare >= 1 {
		return nil, fmt.Errorf("loadtest: trace: scan share %g not in (0, 1)", scanShare)
	}
	r := rand.New(rand.NewPCG(seed, 0x7ace))
	z := newZipfGen(r, s, keys)
	perm := r.Perm(keys)
	out := make([]TraceRequest, 0, n)
	period := max(n/10, 1)
	switch class {
	case "zipf":
		for len(out) < n {
			out = append(out, TraceRequest{ID: uint64(perm[z.next()])})
		}
	case "scan":
		scan := max(keys/4, 1)
		zipfRun := int(float64(scan) * (1 - scanShare) / scanShare) // scans are scanShare of the requests
		next := uint64(keys)
		for len(out) < n {
			for k := 0; k < zipfRun && len(out) < n; k++ {
				out = append(out, TraceRequest{ID: uint64(perm[z.next()])})
			}
			for k := 0; k < scan && len(out) < n; k++ {
				out = append(out, TraceRequest{ID: next})
				next++
			}
		}
	case "shift":
		for len(out) < n {
			offset := len(out) / period * max(keys/20, 1)
			out = append(out, TraceRequest{ID: uint64(perm[(z.next()+offset)%keys])})
		}
	default:
		return nil, fmt.Errorf("loadtest: unknown trace class %q (want one of %v)", class, TraceClasses)
	}
	return out, nil
}
