// Config, its defaults and ParseSize; the settings CONFIG SET changes.

package cachenode

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/cachetier/cachetier/ring"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAddr            = "127.0.0.1:7000"
	DefaultMaxMemoryPolicy = "allkeys-tinylfu"
	DefaultMaxClients      = 10000
)

// Config configures a Server. The zero value is usable: every zero field
// gets the default named in its comment.
type Config struct {
	// Addr is the TCP address ListenAndServe listens on. Default "127.0.0.1:7000".
	Addr string
	// MaxMemory bounds the data held, in bytes (see ParseSize for "100mb").
	// 0 means unlimited.
	MaxMemory int64
	// MaxMemoryPolicy is the eviction policy used when MaxMemory is reached,
	// named as in redis.conf: "noeviction", "allkeys-lru", "volatile-lru",
	// "allkeys-lfu", "volatile-lfu", "allkeys-random", "volatile-random",
	// "volatile-ttl", or cachenode's own "allkeys-tinylfu" and
	// "volatile-tinylfu" (docs/cachenode.md). Default "allkeys-tinylfu".
	MaxMemoryPolicy string
	// RequirePass, when not empty, is the password clients must give with
	// AUTH or HELLO before other commands. Default "" (no authentication).
	RequirePass string
	// MaxClients is the maximum number of connected clients; further
	// connections get "-ERR max number of clients reached" and are closed.
	// Default 10000.
	MaxClients int
	// Timeout closes a client connection idle for this long (no command and
	// no progress writing its replies). 0, the default, never closes idle
	// clients. Redis's "timeout" has a one-second resolution; this does not.
	Timeout time.Duration
	// MetricsAddr, when not empty, is the HTTP address ListenAndServe also
	// serves /metrics (Prometheus), /healthz and /readyz on. Default "" (off).
	MetricsAddr string
	// Logger receives the startup line and abnormal events. Default slog.Default().
	Logger *slog.Logger
	// Slot is the node's place in the ring, 0 to ring.MaxSlots-1, which the
	// node reports to clients (CONFIG GET slot, INFO server "slot:N"). It
	// counts only when HasSlot is true; the zero Config has no slot.
	// SlotFromHostname derives it from a StatefulSet pod's name.
	Slot int
	// HasSlot says Slot is set. Default false: the node reports no slot
	// (CONFIG GET slot answers "", INFO has no slot field).
	HasSlot bool

	// Dir is the directory of the snapshot file, which must exist. New
	// loads the file if it is there (see Server.Save and docs/cachenode.md,
	// "Persistence"). Default "": snapshots are off (nothing is loaded or
	// saved; SAVE and BGSAVE answer an error). cmd/cachenode sets it to "."
	// by default, as redis-server's dir.
	Dir string
	// DBFilename is the snapshot file's name in Dir, without a path.
	// Default "dump.rdb".
	DBFilename string
	// Save holds the save points (redis-server's save setting, see
	// ParseSavePoints): a background save runs when one is reached, and
	// Shutdown saves when there is at least one (unless SHUTDOWN NOSAVE).
	// Default none: snapshots are written only by SAVE, BGSAVE and
	// SHUTDOWN SAVE.
	Save []SavePoint

	// pushLimit overrides pushBufLimit (tests).
	pushLimit int
}

func (c *Config) withDefaults() (Config, store.Policy, error) {
	cfg := *c
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.MaxMemoryPolicy == "" {
		cfg.MaxMemoryPolicy = DefaultMaxMemoryPolicy
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.pushLimit == 0 {
		cfg.pushLimit = pushBufLimit
	}
	if cfg.MaxMemory < 0 {
		return cfg, 0, fmt.Errorf("cachenode: negative MaxMemory %d", cfg.MaxMemory)
	}
	if cfg.MaxClients < 0 {
		return cfg, 0, fmt.Errorf("cachenode: negative MaxClients %d", cfg.MaxClients)
	}
	if cfg.Timeout < 0 {
		return cfg, 0, fmt.Errorf("cachenode: negative Timeout %v", cfg.Timeout)
	}
	if cfg.HasSlot && (cfg.Slot < 0 || cfg.Slot >= ring.MaxSlots) {
		return cfg, 0, fmt.Errorf("cachenode: slot %d out of range 0-%d", cfg.Slot, ring.MaxSlots-1)
	}
	if cfg.DBFilename == "" {
		cfg.DBFilename = DefaultDBFilename
	}
	if strings.ContainsAny(cfg.DBFilename, `/\`) || cfg.DBFilename == "." || cfg.DBFilename == ".." {
		return cfg, 0, fmt.Errorf("cachenode: dbfilename %q: want a file name, not a path", cfg.DBFilename)
	}
	if cfg.Dir != "" {
		abs, err := filepath.Abs(cfg.Dir)
		if err != nil {
			return cfg, 0, fmt.Errorf("cachenode: dir %q: %w", cfg.Dir, err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return cfg, 0, fmt.Errorf("cachenode: dir %q is not a directory that exists", cfg.Dir)
		}
		cfg.Dir = abs
	}
	for _, p := range cfg.Save {
		if p.Seconds < 1 || p.Changes < 0 {
			return cfg, 0, fmt.Errorf("%w: save point %d %d", ErrInvalidSave, p.Seconds, p.Changes)
		}
	}
	cfg.Save = append([]SavePoint(nil), cfg.Save...)
	p, err := store.ParsePolicy(cfg.MaxMemoryPolicy)
	if err != nil {
		return cfg, 0, fmt.Errorf("cachenode: maxmemory-policy: %w", err)
	}
	cfg.MaxMemoryPolicy = p.String()
	return cfg, p, nil
}

// settings are the values CONFIG SET changes, read without a lock.
type settings struct {
	maxMemory   atomic.Int64
	policy      atomic.Int64 // store.Policy
	maxClients  atomic.Int64
	timeout     atomic.Int64 // time.Duration
	requirePass atomic.Pointer[string]
	// trackingMaxKeys is tracking-table-max-keys (CONFIG SET); 0 = no
	// bound but the maxmemory one (tracker.maxKeys).
	trackingMaxKeys atomic.Int64
	// protoMaxBulk is proto-max-bulk-len: the largest bulk argument a
	// client may send and the largest string value a command may build.
	protoMaxBulk atomic.Int64

	// lfuLogFactor and lfuDecayTime are lfu-log-factor and lfu-decay-time.
	lfuLogFactor, lfuDecayTime atomic.Int64
}

// ErrInvalidSize is returned (wrapped) by ParseSize for a malformed size.
var ErrInvalidSize = errors.New("cachenode: invalid size")

// ParseSize parses a memory size the way redis.conf does: a non-negative
// integer with an optional case-insensitive unit, where k=1000, kb=1024,
// m=1000², mb=1024², g=1000³, gb=1024³ ("100mb", "2gb", "1k", "123").
func ParseSize(s string) (int64, error) {
	num := strings.ToLower(s)
	mul := int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1000}, {"m", 1000 * 1000}, {"g", 1000 * 1000 * 1000}, {"b", 1}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mul = num[:len(num)-len(u.suffix)], u.mul
			break
		}
	}
	if num == "" || num[0] == '+' || num[0] == '-' {
		return 0, fmt.Errorf("%w: %q", ErrInvalidSize, s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > (1<<63-1)/mul {
		return 0, fmt.Errorf("%w: %q", ErrInvalidSize, s)
	}
	return n * mul, nil
}

// ErrNoOrdinal is returned (wrapped) by SlotFromHostname for a hostname
// without a StatefulSet ordinal. It is ring.ErrNoOrdinal.
var ErrNoOrdinal = ring.ErrNoOrdinal

// SlotFromHostname returns the slot a StatefulSet pod's hostname names (its
// ordinal: "cache-3" gives 3). It is ring.SlotFromHostname, the rule clients
// also apply to the hostnames and SRV targets they discover.
func SlotFromHostname(hostname string) (int, error) {
	return ring.SlotFromHostname(hostname)
}
