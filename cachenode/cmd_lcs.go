// LCS: the longest common subsequence of two strings.

package cachenode

import "github.com/cachetier/cachetier/internal/resp"

// cmdLCS is Redis 7's LCS: the classic dynamic programming table of
// LCS(a[:i], b[:j]) lengths, then a walk back from its corner that builds
// the subsequence and, for IDX, the matching ranges, last first. The table
// (4 bytes a cell) may not exceed proto-max-bulk-len.
func cmdLCS(c *conn, args [][]byte) {
	a, _ := c.get(nil, args[1])
	b, _ := c.get(nil, args[2])
	var getLen, getIdx, withMatchLen bool
	var minMatchLen int64
	for j := 3; j < len(args); j++ {
		switch opt := args[j]; {
		case eq(opt, "idx"):
			getIdx = true
		case eq(opt, "len"):
			getLen = true
		case eq(opt, "withmatchlen"):
			withMatchLen = true
		case eq(opt, "minmatchlen") && j+1 < len(args):
			n, ok := resp.ParseInt(args[j+1])
			if !ok {
				c.err(errNotInt)
				return
			}
			minMatchLen = max(n, 0)
			j++
		default:
			c.err(errSyntax)
			return
		}
	}
	if getLen && getIdx {
		c.err("ERR If you want both the length and indexes, please just use IDX.")
		return
	}
	if len(a) >= 1<<32-2 || len(b) >= 1<<32-2 {
		c.err("ERR String too long for LCS")
		return
	}
	alen, blen := len(a), len(b)
	cells := uint64(alen+1) * uint64(blen+1)
	if cells*4 > uint64(c.s.settings.protoMaxBulk.Load()) {
		c.err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
		return
	}
	w := blen + 1
	lcs := make([]uint32, cells) // row 0 and column 0 stay 0
	for i := 1; i <= alen; i++ {
		for j := 1; j <= blen; j++ {
			if a[i-1] == b[j-1] {
				lcs[i*w+j] = lcs[(i-1)*w+j-1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i-1)*w+j], lcs[i*w+j-1])
			}
		}
	}
	total := lcs[alen*w+blen]
	if getLen {
		c.int(int64(total))
		return
	}
	result := make([]byte, total)
	idx := total
	// The matching ranges, found last first: [aStart, aEnd] in a and
	// [bStart, bEnd] in b. aStart == alen means no range is open.
	type match struct{ aStart, aEnd, bStart, bEnd, n int }
	var matches []match
	aStart, aEnd, bStart, bEnd := alen, 0, 0, 0
	i, j := alen, blen
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			switch {
			case aStart == alen:
				aStart, aEnd, bStart, bEnd = i-1, i-1, j-1, j-1
			case aStart == i && bStart == j: // contiguous: extend the range backwards
				aStart--
				bStart--
			default:
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if lcs[(i-1)*w+j] > lcs[i*w+j-1] {
				i--
			} else {
				j--
			}
			if aStart != alen {
				emit = true
			}
		}
		if emit {
			if n := aEnd - aStart + 1; minMatchLen == 0 || int64(n) >= minMatchLen {
				matches = append(matches, match{aStart, aEnd, bStart, bEnd, n})
			}
			aStart = alen
		}
	}
	if !getIdx {
		c.bulk(result)
		return
	}
	c.mapLen(2)
	c.bulkStr("matches")
	c.array(len(matches))
	for _, m := range matches {
		if withMatchLen {
			c.array(3)
		} else {
			c.array(2)
		}
		c.array(2)
		c.int(int64(m.aStart))
		c.int(int64(m.aEnd))
		c.array(2)
		c.int(int64(m.bStart))
		c.int(int64(m.bEnd))
		if withMatchLen {
			c.int(int64(m.n))
		}
	}
	c.bulkStr("len")
	c.int(int64(total))
}
