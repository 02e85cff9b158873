package ring

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNoOrdinal is returned (wrapped) by SlotFromHostname for a hostname
// without a StatefulSet ordinal.
var ErrNoOrdinal = errors.New("hostname has no StatefulSet ordinal")

// SlotFromHostname returns the slot a StatefulSet pod's hostname names: its
// ordinal, the decimal digits after the last '-' of the hostname's first
// label ("cache-3" and "cache-3.cache.ns.svc.cluster.local" give 3). The
// digits must be a plain decimal number as Kubernetes writes ordinals (no
// sign, no leading zero except "0" itself), below MaxSlots, and the name
// before the '-' must not be empty. Anything else ("cache", "cache-",
// "cache-03", "-3", "node7", an IP address) is an error wrapping
// ErrNoOrdinal.
//
// A node started with --slot auto and a client reading an SRV target or a
// hostname in its discovery both use this rule, so they agree.
func SlotFromHostname(hostname string) (int, error) {
	label, _, _ := strings.Cut(hostname, ".")
	i := strings.LastIndexByte(label, '-')
	digits := label[i+1:]
	bad := i <= 0 || digits == "" || (digits[0] == '0' && len(digits) > 1)
	for _, c := range []byte(digits) {
		bad = bad || c < '0' || c > '9'
	}
	if bad {
		return 0, fmt.Errorf("%w: %q (want a name ending in -<ordinal>, as StatefulSet pods are named: cache-3)", ErrNoOrdinal, hostname)
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n >= MaxSlots {
		return 0, fmt.Errorf("%w: %q (ordinal %s is not below %d, the most slots a ring holds)", ErrNoOrdinal, hostname, digits, MaxSlots)
	}
	return n, nil
}
