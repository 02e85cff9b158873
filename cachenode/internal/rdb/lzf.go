package rdb

import "errors"

// lzfDecompress decompresses in (LZF, as liblzf's lzf_d.c) into out, which
// must be exactly the uncompressed length.
func lzfDecompress(in, out []byte) error {
	ip, op := 0, 0
	for ip < len(in) {
		ctrl := int(in[ip])
		ip++
		if ctrl < 1<<5 { // literal run of ctrl+1 bytes
			ctrl++
			if op+ctrl > len(out) {
				return errors.New("lzf: output overrun")
			}
			if ip+ctrl > len(in) {
				return errors.New("lzf: input overrun")
			}
			copy(out[op:], in[ip:ip+ctrl])
			op += ctrl
			ip += ctrl
			continue
		}
		// Back reference.
		n := ctrl >> 5
		ref := op - (ctrl&0x1f)<<8 - 1
		if ip >= len(in) {
			return errors.New("lzf: input overrun")
		}
		if n == 7 {
			n += int(in[ip])
			ip++
			if ip >= len(in) {
				return errors.New("lzf: input overrun")
			}
		}
		ref -= int(in[ip])
		ip++
		n += 2
		if op+n > len(out) {
			return errors.New("lzf: output overrun")
		}
		if ref < 0 {
			return errors.New("lzf: back reference before the start")
		}
		if op >= ref+n {
			copy(out[op:op+n], out[ref:ref+n])
			op += n
		} else {
			for ; n > 0; n-- { // overlapping: byte by byte
				out[op] = out[ref]
				op++
				ref++
			}
		}
	}
	if op != len(out) {
		return errors.New("lzf: decompressed length differs from the declared one")
	}
	return nil
}
