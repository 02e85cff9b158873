package store

// Match reports whether s matches the glob-style pattern, with the semantics
// of Redis's stringmatchlen (used by KEYS and SCAN MATCH): '*' matches any
// sequence of bytes (also empty), '?' any single byte, "[abc]" one of the
// listed bytes, "[a-z]" a range, "[^x]" any byte but those listed, and a
// backslash makes the next byte literal (also inside brackets). An
// unterminated '[' matches as if closed at the end of the pattern. With
// nocase, ASCII letters compare case-insensitively. As in Redis, recursion
// is limited and hopeless branches are cut, so abusive patterns finish fast.
//
// A lone "*" matches everything, including the empty string, as it does for
// KEYS and SCAN (Redis's callers skip matching for it); other patterns
// follow stringmatchlen exactly, so "**" does not match the empty string.
func Match(pattern, s []byte, nocase bool) bool {
	if len(pattern) == 1 && pattern[0] == '*' {
		return true
	}
	skip := false
	return matchImpl(pattern, s, nocase, &skip, 0)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// at returns p[i], or 0 past the end (the C original reads the NUL terminator).
func at(p []byte, i int) byte {
	if i >= 0 && i < len(p) {
		return p[i]
	}
	return 0
}

func matchImpl(p, s []byte, nocase bool, skipLonger *bool, nesting int) bool {
	if nesting > 1000 {
		return false
	}
	pi, si := 0, 0
	for pi < len(p) && si < len(s) {
		switch p[pi] {
		case '*':
			for pi < len(p) && at(p, pi+1) == '*' {
				pi++
			}
			if pi == len(p)-1 {
				return true
			}
			for si < len(s) {
				if matchImpl(p[pi+1:], s[si:], nocase, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				si++
			}
			*skipLonger = true
			return false
		case '?':
			si++
		case '[':
			pi++
			not := at(p, pi) == '^'
			if not {
				pi++
			}
			match := false
			c := s[si]
			for {
				if at(p, pi) == '\\' && len(p)-pi >= 2 {
					pi++
					if p[pi] == c {
						match = true
					}
				} else if at(p, pi) == ']' {
					break
				} else if pi >= len(p) {
					pi--
					break
				} else if len(p)-pi >= 3 && p[pi+1] == '-' {
					start, end, cc := p[pi], p[pi+2], c
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, cc = lower(start), lower(end), lower(cc)
					}
					pi += 2
					if cc >= start && cc <= end {
						match = true
					}
				} else if !nocase {
					if p[pi] == c {
						match = true
					}
				} else if lower(p[pi]) == lower(c) {
					match = true
				}
				pi++
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			si++
		case '\\':
			if len(p)-pi >= 2 {
				pi++
			}
			fallthrough
		default:
			if !nocase {
				if p[pi] != s[si] {
					return false
				}
			} else if lower(p[pi]) != lower(s[si]) {
				return false
			}
			si++
		}
		pi++
		if si == len(s) {
			for at(p, pi) == '*' {
				pi++
			}
			break
		}
	}
	return pi >= len(p) && si == len(s)
}
