package ring

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("ring: syntax error")

// maxAddrLen bounds one address in the text form.
const maxAddrLen = 1024

// String returns the compact text form of the slot table and the down set:
// slots in order, separated by commas; a run of k slots with the same owner
// as "addr*k"; a vacant slot as "-"; then, if any node is down,
// " down=" and the down addresses separated by commas. For example
//
//	a:7001,a:7002*2,-,a:7004 down=a:7004
//
// Parse(r.String()) returns a ring equal to r. Addresses containing
// whitespace, ',', '*', '#' or '=' do not survive the round trip.
func (r *Ring) String() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(r.slots); {
		j := i + 1
		for j < len(r.slots) && r.slots[j] == r.slots[i] {
			j++
		}
		if i > 0 {
			b.WriteByte(',')
		}
		if r.slots[i] == "" {
			b.WriteByte('-')
		} else {
			b.WriteString(r.slots[i])
		}
		if j-i > 1 {
			b.WriteByte('*')
			b.WriteString(strconv.Itoa(j - i))
		}
		i = j
	}
	for i, a := range r.down {
		if i == 0 {
			b.WriteString(" down=")
		} else {
			b.WriteByte(',')
		}
		b.WriteString(a)
	}
	return b.String()
}

// Parse reads the text form written by String. It also accepts what an
// operator would write in a file: entries may be split over lines (a comma
// at the end of a line is optional), spaces around entries are ignored, and
// '#' starts a comment that runs to the end of the line. The down section
// starts with "down=" after whitespace (or at the start), runs to the end,
// and lists addresses separated by commas or whitespace; each must own a
// slot. An entry may end in "=N" to say which slot it starts at, so a
// table can name each node's slot and leave the gaps vacant:
// "a:7000=0, b:7000=1, d:7000=3" is "a:7000,b:7000,-,d:7000". Entries go
// in slot order ("=N" below the next free slot is an error). An empty
// text is an empty ring. At most MaxSlots slots. Errors wrap
// ErrSyntax and name the offending entry.
func Parse(s string) (*Ring, error) {
	var text strings.Builder
	for line := range strings.Lines(s) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i] + "\n"
		}
		text.WriteString(line)
	}
	table, downPart, hasDown := cutDown(text.String())

	var slots []string
	owned := map[string]struct{}{}
	for line := range strings.Lines(table) {
		line = strings.TrimSpace(line)
		line = strings.TrimSuffix(line, ",")
		if line == "" {
			continue
		}
		for entry := range strings.SplitSeq(line, ",") {
			entry = strings.TrimSpace(entry)
			addr, count, at, err := parseEntry(entry)
			if err != nil {
				return nil, err
			}
			if at >= 0 {
				if at < len(slots) {
					return nil, fmt.Errorf("%w: entry %q: slot %d is already placed (entries go in slot order)", ErrSyntax, entry, at)
				}
				for len(slots) < at {
					slots = append(slots, "")
				}
			}
			if len(slots)+count > MaxSlots {
				return nil, fmt.Errorf("%w: more than %d slots", ErrSyntax, MaxSlots)
			}
			for range count {
				slots = append(slots, addr)
			}
			if addr != "" {
				owned[addr] = struct{}{}
			}
		}
	}

	var down map[string]struct{}
	if hasDown {
		down = map[string]struct{}{}
		for _, a := range strings.FieldsFunc(downPart, func(c rune) bool { return c == ',' || isSpace(c) }) {
			if err := checkAddr(a); err != nil {
				return nil, fmt.Errorf("%w: down address %q: %v", ErrSyntax, a, err)
			}
			if _, ok := owned[a]; !ok {
				return nil, fmt.Errorf("%w: down address %q owns no slot", ErrSyntax, a)
			}
			down[a] = struct{}{}
		}
	}
	return build(slots, down), nil
}

// cutDown splits text at the "down=" that starts the down section.
func cutDown(text string) (table, down string, found bool) {
	for off := 0; ; {
		i := strings.Index(text[off:], "down=")
		if i < 0 {
			return text, "", false
		}
		i += off
		if i == 0 || isSpace(rune(text[i-1])) {
			return text[:i], text[i+len("down="):], true
		}
		off = i + 1
	}
}

func isSpace(c rune) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// parseEntry parses "addr", "addr*k", "-" or "-*k", each optionally
// followed by "=N" (the entry starts at slot N; at is -1 without it); a
// vacant slot has addr "".
func parseEntry(entry string) (addr string, count, at int, err error) {
	if entry == "" {
		return "", 0, -1, fmt.Errorf("%w: empty slot entry (write - for a vacant slot)", ErrSyntax)
	}
	at = -1
	if name, n, ok := strings.Cut(entry, "="); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 || v >= MaxSlots || n != strconv.Itoa(v) {
			return "", 0, -1, fmt.Errorf("%w: entry %q: slot must be 0..%d", ErrSyntax, entry, MaxSlots-1)
		}
		entry, at = name, v
	}
	addr, count = entry, 1
	if name, k, ok := strings.Cut(entry, "*"); ok {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || n > MaxSlots {
			return "", 0, -1, fmt.Errorf("%w: entry %q: slot count must be 1..%d", ErrSyntax, entry, MaxSlots)
		}
		addr, count = name, n
	}
	if addr == "-" {
		return "", count, at, nil
	}
	if err := checkAddr(addr); err != nil {
		return "", 0, -1, fmt.Errorf("%w: entry %q: %v", ErrSyntax, entry, err)
	}
	return addr, count, at, nil
}

// checkAddr reports why addr cannot appear in the text form.
func checkAddr(addr string) error {
	switch {
	case addr == "":
		return errors.New("empty address")
	case addr == "-":
		return errors.New(`"-" is not an address`)
	case len(addr) > maxAddrLen:
		return fmt.Errorf("address longer than %d bytes", maxAddrLen)
	}
	for _, c := range []byte(addr) {
		if c <= ' ' || c == 0x7f || c == ',' || c == '*' || c == '#' || c == '=' {
			return fmt.Errorf("address contains %q", c)
		}
	}
	return nil
}
