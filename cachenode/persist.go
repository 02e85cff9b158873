// Snapshots: SAVE, BGSAVE, save points, the save on shutdown and the load
// on start, in Redis's RDB format (internal/rdb).

package cachenode

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/rdb"
	"github.com/cachetier/cachetier/cachenode/internal/store"
)

// DefaultDBFilename is the snapshot file name New uses when
// Config.DBFilename is empty, as redis-server's dbfilename.
const DefaultDBFilename = "dump.rdb"

// SavePoint is one of Redis's "save <seconds> <changes>" rules: a snapshot
// is written in the background when at least Changes writes happened and
// Seconds passed since the last successful save.
type SavePoint struct {
	Seconds int64
	Changes int64
}

// ErrInvalidSave is returned (wrapped) by ParseSavePoints.
var ErrInvalidSave = errors.New("cachenode: invalid save parameters")

// ParseSavePoints parses redis-server's save setting: pairs of
// "<seconds> <changes>" separated by spaces ("3600 1 300 100 60 10000");
// "" means no save points.
func ParseSavePoints(v string) ([]SavePoint, error) {
	f := strings.Fields(v)
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("%w: %q (want pairs of <seconds> <changes>)", ErrInvalidSave, v)
	}
	var pts []SavePoint
	for i := 0; i < len(f); i += 2 {
		sec, err1 := strconv.ParseInt(f[i], 10, 64)
		ch, err2 := strconv.ParseInt(f[i+1], 10, 64)
		if err1 != nil || err2 != nil || sec < 1 || ch < 0 {
			return nil, fmt.Errorf("%w: %q (want pairs of <seconds> <changes>, seconds at least 1)", ErrInvalidSave, v)
		}
		pts = append(pts, SavePoint{Seconds: sec, Changes: ch})
	}
	return pts, nil
}

// formatSavePoints is CONFIG GET save's answer.
func formatSavePoints(pts []SavePoint) string {
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d %d", p.Seconds, p.Changes)
	}
	return b.String()
}

// Shutdown save modes, set by SHUTDOWN's arguments.
const (
	shutdownDefault = iota // save if there are save points (Redis's default)
	shutdownSave
	shutdownNoSave
)

// persistState is the snapshot state. saveMu serialises saves (SAVE,
// BGSAVE, the save points and the save on shutdown); the rest are atomics
// read by INFO and LASTSAVE.
type persistState struct {
	saveMu sync.Mutex

	savePoints atomic.Pointer[[]SavePoint] // CONFIG SET save

	bgInProgress atomic.Bool
	bgStart      atomic.Int64 // Unix ms the running BGSAVE started
	bgWG         sync.WaitGroup

	lastSave       atomic.Int64  // Unix seconds of the last successful save (start time until then)
	lastSaveDirty  atomic.Uint64 // the write count at the start of the last successful save
	lastStatusOK   atomic.Bool
	lastBgTimeSec  atomic.Int64 // duration of the last BGSAVE, -1 before the first
	lastTry        atomic.Int64 // Unix ms the last background save (BGSAVE, save point) started
	saves          atomic.Int64 // successful saves (rdb_saves)
	lastMaxLockUs  atomic.Int64 // longest shard copy (lock hold) of the last save, microseconds
	loadedKeys     atomic.Int64 // rdb_last_load_keys_loaded
	loadedExpired  atomic.Int64 // rdb_last_load_keys_expired
	shutdownMode   atomic.Int32
	shutdownSaveMu sync.Mutex    // one save on shutdown at a time (SHUTDOWN, Shutdown, a second Shutdown)
	savedForStop   atomic.Bool   // a shutdown save succeeded; another runs only after later writes
	savedDirty     atomic.Uint64 // the write count that save started at

	stop     chan struct{} // ends the save point goroutine (stopPersist)
	stopOnce sync.Once
	done     chan struct{}
}

// snapshotPath returns the snapshot file's path, "" when snapshots are off.
func (s *Server) snapshotPath() string {
	if s.cfg.Dir == "" {
		return ""
	}
	return filepath.Join(s.cfg.Dir, s.cfg.DBFilename)
}

// ErrSnapshotsOff is returned by Save when the server has no Config.Dir.
var ErrSnapshotsOff = errors.New("cachenode: snapshots are off (no Config.Dir)")

// Save writes a snapshot of the store to Config.Dir/Config.DBFilename now
// (as SAVE does), waiting for a save in progress to finish first. The file
// is written to a temporary name in the same directory, synced, and renamed
// over the previous snapshot, and the directory is synced.
func (s *Server) Save() error { return s.save(false) }

// save writes the snapshot. The store is copied shard by shard, each under
// its lock (store.CopyShard), and written with no lock held.
func (s *Server) save(background bool) (err error) {
	path := s.snapshotPath()
	if path == "" {
		return ErrSnapshotsOff
	}
	s.persist.saveMu.Lock()
	defer s.persist.saveMu.Unlock()
	start := time.Now()
	dirtyAtStart := s.dirty()
	keys, maxLock, err := s.writeSnapshot(path, start)
	s.persist.lastStatusOK.Store(err == nil)
	if background {
		s.persist.lastBgTimeSec.Store(int64(time.Since(start).Round(time.Second) / time.Second))
	}
	if err != nil {
		s.log.Error("cachenode: snapshot save failed", "file", path, "err", err)
		return err
	}
	s.persist.lastSave.Store(start.Unix())
	s.persist.lastSaveDirty.Store(dirtyAtStart)
	s.persist.saves.Add(1)
	s.persist.lastMaxLockUs.Store(maxLock.Microseconds())
	s.log.Info("cachenode: snapshot saved", "file", path, "keys", keys, "background", background,
		"duration", time.Since(start).Round(time.Millisecond).String(), "longest_shard_lock", maxLock.String())
	return nil
}

// writeSnapshot writes the RDB file through a temporary file and returns
// the keys written and the longest shard copy.
func (s *Server) writeSnapshot(path string, now time.Time) (keys int, maxLock time.Duration, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "temp-"+strconv.Itoa(os.Getpid())+"-*.rdb")
	if err != nil {
		return 0, 0, err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var st store.Stats
	s.store.UpdateStats(&st)
	w := rdb.NewWriter(f)
	w.Header(
		rdb.Aux{Key: "redis-ver", Value: RedisVersion},
		rdb.Aux{Key: "redis-bits", Value: strconv.Itoa(strconv.IntSize)},
		rdb.Aux{Key: "ctime", Value: strconv.FormatInt(now.Unix(), 10)},
		rdb.Aux{Key: "used-mem", Value: strconv.FormatInt(st.UsedMemory, 10)},
		rdb.Aux{Key: "aof-base", Value: "0"},
	)
	w.SelectDB(0, st.Keys, st.Expires)
	var c store.ShardCopy
	write := func(k, v []byte, exp int64) error { return w.WriteString(k, v, exp) }
	for i := 0; i < s.store.ShardCount(); i++ {
		t := time.Now()
		s.store.CopyShard(i, &c)
		maxLock = max(maxLock, time.Since(t))
		keys += c.Len()
		if err := c.Each(write); err != nil {
			return 0, 0, err
		}
	}
	if err := w.Close(); err != nil {
		return 0, 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, 0, err
	}
	if err := f.Close(); err != nil {
		return 0, 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, 0, err
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable
		err = d.Sync()
		d.Close()
		if err != nil {
			return keys, maxLock, fmt.Errorf("sync directory %s: %w", dir, err)
		}
	}
	return keys, maxLock, nil
}

// errBgsaveInProgress is Redis's reply to SAVE or BGSAVE during a BGSAVE.
const errBgsaveInProgress = "ERR Background save already in progress"

// bgsave starts a background save; false if one is already running.
func (s *Server) bgsave() bool {
	if !s.persist.bgInProgress.CompareAndSwap(false, true) {
		return false
	}
	s.persist.bgStart.Store(time.Now().UnixMilli())
	s.persist.lastTry.Store(time.Now().UnixMilli())
	s.persist.bgWG.Add(1)
	go func() {
		defer s.persist.bgWG.Done()
		defer s.persist.bgInProgress.Store(false)
		_ = s.save(true)
	}()
	return true
}

// saveCron runs the save points: every second it starts a background save
// when one of them is due, as Redis's serverCron does (after a failed one,
// it waits 5 seconds before trying again).
func (s *Server) saveCron() {
	defer close(s.persist.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.persist.stop:
			return
		case now := <-t.C:
			pts := *s.persist.savePoints.Load()
			if len(pts) == 0 || s.snapshotPath() == "" || s.persist.bgInProgress.Load() {
				continue
			}
			if !s.persist.lastStatusOK.Load() && now.UnixMilli()-s.persist.lastTry.Load() < 5000 {
				continue
			}
			changes := s.dirty() - s.persist.lastSaveDirty.Load()
			since := now.Unix() - s.persist.lastSave.Load()
			for _, p := range pts {
				if int64(changes) >= p.Changes && since >= p.Seconds && changes > 0 {
					s.log.Info("cachenode: save point reached, saving in the background",
						"changes", changes, "seconds", p.Seconds)
					s.bgsave()
					break
				}
			}
		}
	}
}

// stopPersist ends the save point goroutine and waits for a background
// save in progress. It may be called more than once.
func (s *Server) stopPersist() {
	s.persist.stopOnce.Do(func() { close(s.persist.stop) })
	<-s.persist.done
	s.persist.bgWG.Wait()
}

// saveOnShutdown writes the snapshot Shutdown writes, after the connections
// are closed: when SHUTDOWN SAVE asked for it, or by default when there are
// save points (Redis's rule); not after SHUTDOWN NOSAVE. When SHUTDOWN or
// an earlier call already saved and nothing was written since, it does not
// save again.
func (s *Server) saveOnShutdown() {
	if s.snapshotPath() == "" {
		return
	}
	switch s.persist.shutdownMode.Load() {
	case shutdownNoSave:
		return
	case shutdownDefault:
		if len(*s.persist.savePoints.Load()) == 0 {
			return
		}
	}
	s.persist.shutdownSaveMu.Lock()
	defer s.persist.shutdownSaveMu.Unlock()
	dirty := s.dirty()
	if s.persist.savedForStop.Load() && dirty == s.persist.savedDirty.Load() {
		return
	}
	s.log.Info("cachenode: saving the snapshot before exiting", "file", s.snapshotPath())
	if s.Save() == nil { // a failure is logged
		s.persist.savedDirty.Store(dirty)
		s.persist.savedForStop.Store(true)
	}
}

// loadSnapshot loads the snapshot file, if there is one, into the empty
// store (New calls it). A missing file starts the node empty. A file that
// cannot be read to its end with a valid checksum (corrupt, truncated, or
// content this version cannot read) is renamed aside,
// <dbfilename>.corrupt-<UTC time>, with an error in the log, and the node
// starts empty: a cache must not crash-loop on its own snapshot.
func (s *Server) loadSnapshot() {
	path := s.snapshotPath()
	if path == "" {
		return
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		s.log.Info("cachenode: no snapshot file, starting empty", "file", path)
		return
	}
	if err != nil {
		s.log.Error("cachenode: cannot open the snapshot file, starting empty", "file", path, "err", err)
		return
	}
	start := time.Now()
	var before, after store.Stats
	s.store.UpdateStats(&before)
	res, err := s.loadFrom(f)
	s.store.UpdateStats(&after)
	f.Close()
	if err != nil {
		s.store.Flush()
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			s.log.Error("cachenode: snapshot file unreadable, starting empty; cannot move it aside", "file", path, "err", err, "rename_err", rerr)
			return
		}
		s.log.Error("cachenode: snapshot file unreadable, starting empty; the file is kept aside for inspection",
			"file", path, "kept_as", aside, "err", err)
		return
	}
	s.persist.loadedKeys.Store(res.loaded)
	s.persist.loadedExpired.Store(res.expired)
	attrs := []any{"file", path, "keys", res.loaded, "expired_skipped", res.expired,
		"duration", time.Since(start).Round(time.Millisecond).String()}
	if res.otherDB > 0 {
		attrs = append(attrs, "other_db_skipped", res.otherDB)
	}
	if n := after.Evicted - before.Evicted; n > 0 {
		attrs = append(attrs, "evicted_maxmemory", n)
	}
	if res.overMemory > 0 {
		attrs = append(attrs, "over_maxmemory_skipped", res.overMemory)
	}
	if len(res.skipped) > 0 {
		attrs = append(attrs, "other_types_skipped", res.skipped)
	}
	if v := res.aux["redis-ver"]; v != "" {
		attrs = append(attrs, "written_by_redis_ver", v)
	}
	s.log.Info("cachenode: snapshot loaded", attrs...)
}

type loadResult struct {
	loaded, expired, otherDB, overMemory int64
	skipped                              map[string]int
	aux                                  map[string]string
}

// loadFrom reads an RDB stream into the store.
func (s *Server) loadFrom(f io.Reader) (loadResult, error) {
	var res loadResult
	r := rdb.NewReader(f)
	limited := s.settings.maxMemory.Load() > 0
	full := false
	for n := 0; ; n++ {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, err
		}
		switch {
		case e.DB != 0:
			res.otherDB++
		case full:
			res.overMemory++
		case s.store.Restore(e.Key, e.Value, e.ExpireAt):
			res.loaded++
		default:
			res.expired++
		}
		if limited && n%1024 == 1023 && !full && s.store.EnsureMemory() != nil {
			full = true // noeviction: keep what fits, check the rest of the file
		}
	}
	if limited {
		_ = s.store.EnsureMemory()
	}
	res.skipped, res.aux = r.Skipped(), r.Aux()
	return res, nil
}

// initPersist sets up the snapshot state, loads the snapshot file and
// starts the save point goroutine (New calls it).
func (s *Server) initPersist() {
	pts := s.cfg.Save
	s.persist.savePoints.Store(&pts)
	s.persist.lastSave.Store(s.start.Unix())
	s.persist.lastStatusOK.Store(true)
	s.persist.lastBgTimeSec.Store(-1)
	s.persist.stop = make(chan struct{})
	s.persist.done = make(chan struct{})
	s.loadSnapshot()
	go s.saveCron()
}

// saveForShutdown writes the snapshot SHUTDOWN writes before the server
// stops, and reports whether the shutdown may go on: the save succeeded, or
// force. Without a dir, SHUTDOWN SAVE fails (explicit) and a default
// shutdown has nothing to save.
func (s *Server) saveForShutdown(explicit, force bool) bool {
	if s.snapshotPath() == "" {
		if explicit {
			s.log.Warn("cachenode: SHUTDOWN SAVE refused: snapshots are off (no --dir)")
		}
		return !explicit || force
	}
	s.persist.shutdownSaveMu.Lock()
	defer s.persist.shutdownSaveMu.Unlock()
	dirty := s.dirty()
	if err := s.Save(); err != nil {
		if force {
			s.log.Warn("cachenode: SHUTDOWN FORCE: shutting down although the snapshot could not be saved")
		}
		return force
	}
	s.persist.savedDirty.Store(dirty)
	s.persist.savedForStop.Store(true)
	return true
}

// infoPersistence writes INFO's persistence section: Redis 7.0's fields,
// with what a node without fork or AOF has (no copy-on-write, AOF off), and
// rdb_last_save_max_lock_usec, the longest a shard was locked for its copy
// during the last save (the longest a client of that shard waited for it).
func (s *Server) infoPersistence(kv func(string, any), now time.Time) {
	p := &s.persist
	kv("loading", 0) // the snapshot is loaded before the node listens
	kv("async_loading", 0)
	kv("current_cow_peak", 0)
	kv("current_cow_size", 0)
	kv("current_cow_size_age", 0)
	kv("current_fork_perc", "0.00")
	kv("current_save_keys_processed", 0)
	kv("current_save_keys_total", 0)
	kv("rdb_changes_since_last_save", s.dirty()-p.lastSaveDirty.Load())
	inProgress, cur := 0, int64(-1)
	if p.bgInProgress.Load() {
		inProgress = 1
		cur = (now.UnixMilli() - p.bgStart.Load()) / 1000
	}
	kv("rdb_bgsave_in_progress", inProgress)
	kv("rdb_last_save_time", p.lastSave.Load())
	status := "ok"
	if !p.lastStatusOK.Load() {
		status = "err"
	}
	kv("rdb_last_bgsave_status", status)
	kv("rdb_last_bgsave_time_sec", p.lastBgTimeSec.Load())
	kv("rdb_current_bgsave_time_sec", cur)
	kv("rdb_saves", p.saves.Load())
	kv("rdb_last_cow_size", 0)
	kv("rdb_last_load_keys_expired", p.loadedExpired.Load())
	kv("rdb_last_load_keys_loaded", p.loadedKeys.Load())
	kv("rdb_last_save_max_lock_usec", p.lastMaxLockUs.Load())
	kv("aof_enabled", 0)
	kv("aof_rewrite_in_progress", 0)
	kv("aof_rewrite_scheduled", 0)
	kv("aof_last_rewrite_time_sec", -1)
	kv("aof_current_rewrite_time_sec", -1)
	kv("aof_last_bgrewrite_status", "ok")
	kv("aof_rewrites", 0)
	kv("aof_rewrites_consecutive_failures", 0)
	kv("aof_last_write_status", "ok")
	kv("aof_last_cow_size", 0)
	kv("module_fork_in_progress", 0)
	kv("module_fork_last_cow_size", 0)
}
