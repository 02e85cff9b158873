package cacheclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cachetier/cachetier/ring"
)

// discMaxFileBytes bounds the slot file SlotFile reads (a full table of
// ring.MaxSlots slots with long addresses stays well below it).
const discMaxFileBytes = 16 << 20

// SlotFile reads a ring text form (ring.Parse) from Path and reloads when its
// content changes (poll mtime/size/hash every Interval, default 1s; no
// fsnotify dependency needed).
//
// The file is the operator's slot table, for example
//
//	# cachetier nodes, in join order
//	10.0.0.1:7000, 10.0.0.2:7000, 10.0.0.3:7000*2
//	down=10.0.0.2:7000
//
// Every process reading the same file places keys identically, which is why
// it is the discovery to use when processes must agree exactly (see [DNS]).
// Replace the file atomically (write a temporary file and rename it over
// Path, as Kubernetes does for ConfigMap volumes): a half-written file that
// still parses would be applied until the next poll.
//
// Each Interval, Watch stats the file and re-reads it when its size or
// modification time changed (and, as a safety net for coarse timestamps,
// every 30th poll); a reread whose bytes are unchanged is ignored. A missing,
// unreadable, oversized (over 16 MiB), unparsable or empty table keeps the
// previous ring and is reported through OnError; until the first good read,
// Watch retries sooner (100 ms doubling up to Interval).
type SlotFile struct {
	// Path is the file to read (required).
	Path string
	// Interval is the time between polls; 0 means 1s.
	Interval time.Duration
	// OnError, if not nil, is called (on Watch's goroutine) with every
	// failed read or parse.
	OnError func(err error)
}

// Watch reads the slot table now, calls update with it, and then polls the
// file, calling update after each change of the table. It returns ctx.Err()
// when ctx ends, or a configuration error at once.
func (f *SlotFile) Watch(ctx context.Context, update func(Membership)) error {
	if f.Path == "" {
		return fmt.Errorf("cacheclient: SlotFile.Path is empty")
	}
	interval := f.Interval
	if interval <= 0 {
		interval = time.Second
	}
	var (
		last     *ring.Ring
		content  []byte      // bytes of the last file read successfully
		size     int64  = -1 // stat of the last read
		mtime    time.Time
		failures int
	)
	for poll := 0; ; poll++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		st, err := os.Stat(f.Path)
		if err == nil && last != nil && st.Size() == size && st.ModTime().Equal(mtime) && poll%30 != 0 {
			if !discSleep(ctx, interval) {
				return ctx.Err()
			}
			continue
		}
		var r *ring.Ring
		var data []byte
		if err == nil {
			data, err = discReadFile(f.Path, discMaxFileBytes)
		}
		if err == nil {
			size, mtime = st.Size(), st.ModTime()
			if last != nil && bytes.Equal(data, content) {
				if !discSleep(ctx, interval) {
					return ctx.Err()
				}
				continue
			}
			r, err = ring.Parse(string(data))
			if err == nil && len(r.Nodes()) == 0 {
				err = ErrDiscoveryEmpty
			}
		}
		wait := interval
		if err != nil {
			if f.OnError != nil {
				f.OnError(fmt.Errorf("cacheclient: slot file %s: %w", f.Path, err))
			}
			if last == nil {
				wait = discRetryDelay(failures, interval)
				failures++
			}
		} else {
			content = data
			if last == nil || !r.Equal(last) {
				last = r
				update(Membership{Addrs: r.Nodes(), Ring: r})
			}
		}
		if !discSleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// discReadFile reads at most limit bytes of path; a longer file is an error.
func discReadFile(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}
