// Error replies counted by code, for INFO errorstats.

package cachenode

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// errorStatsLimit is how many distinct error codes are counted, as Redis's
// ERRORSTATS_LIMIT: later new codes count only in total_error_replies.
const errorStatsLimit = 128

// errorStats counts error replies for INFO: in total (total_error_replies)
// and by error code, the first word of the message (errorstats), as Redis
// does. Error replies are rare, so a mutex is fine.
type errorStats struct {
	total  atomic.Uint64
	mu     sync.Mutex
	byCode map[string]uint64
}

// count records one error reply with message msg ("ERR ...").
func (e *errorStats) count(msg string) {
	e.total.Add(1)
	code, _, _ := strings.Cut(msg, " ")
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byCode == nil {
		e.byCode = make(map[string]uint64)
	}
	if _, ok := e.byCode[code]; ok || len(e.byCode) < errorStatsLimit {
		e.byCode[code]++
	}
}

// reset clears the counts (CONFIG RESETSTAT).
func (e *errorStats) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.total.Store(0)
	e.byCode = nil
}

// appendInfo writes the errorstats lines, sorted by code as Redis's are.
func (e *errorStats) appendInfo(b *strings.Builder) {
	e.mu.Lock()
	codes := make([]string, 0, len(e.byCode))
	for c := range e.byCode {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		b.WriteString("errorstat_" + c + ":count=" + strconv.FormatUint(e.byCode[c], 10) + "\r\n")
	}
	e.mu.Unlock()
}
