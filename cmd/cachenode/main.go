// Command cachenode runs one cache node: a Redis-protocol (RESP2/RESP3) cache
// server that redis-cli, redis-benchmark and Redis client libraries use
// unchanged.
//
// Its flags mirror redis-server's (one or two dashes, "--flag value" or
// "--flag=value"):
//
//	--port N                  TCP port (default 7000)
//	--bind ADDR               listen address (default 127.0.0.1)
//	--maxmemory SIZE          bound on the data held: 100mb, 2gb, 1k, bytes; 0 = unlimited
//	--maxmemory-policy NAME   allkeys-tinylfu (default), volatile-tinylfu, redis':
//	                          allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu,
//	                          allkeys-random, volatile-random, volatile-ttl, noeviction
//	--requirepass PW          require AUTH PW (or HELLO ... AUTH default PW) first
//	--maxclients N            maximum connected clients (default 10000)
//	--timeout SECONDS         close clients idle this long; 0 = never (default)
//	--metrics-addr HOST:PORT  serve Prometheus /metrics, /healthz, /readyz; empty = off
//	--slot N|auto             the node's place in the ring (0-65535), reported by
//	                          CONFIG GET slot and INFO; auto: the hostname's
//	                          StatefulSet ordinal (cache-3 -> 3); default: none
//	--dir DIR                 directory of the snapshot file (default ".", as redis)
//	--dbfilename NAME         snapshot file name (default dump.rdb)
//	--save "SECS CHANGES ..." save points, as redis: save in the background when
//	                          CHANGES writes happened within SECS, and save on
//	                          SIGTERM/SHUTDOWN; "" (default) = only SAVE, BGSAVE
//	                          and SHUTDOWN SAVE write the file
//	--loglevel LEVEL          debug, verbose, notice (default), warning
//	--version                 print the version and exit
//
// The cachetier command (cmd/cachetier) prints the ring the nodes form, as
// a client with the same discovery sees it.
//
// On start the node loads DIR/NAME if it exists (keys already expired are
// skipped; an unreadable file is renamed NAME.corrupt-<time> and the node
// starts empty) before it listens.
//
// SIGTERM or SIGINT stops accepting connections, lets in-flight commands
// finish, closes every connection, saves the snapshot when there are save
// points, and exits 0; a second signal, or the shutdown grace period
// passing, closes the connections left at once (a save still runs to its
// end).
//
// The Go garbage collector runs with GOGC=50 unless the environment sets
// GOGC: the node's data is outside the Go heap, and a smaller heap goal
// keeps its resident memory near the data's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cachetier/cachetier/cachenode"
	"github.com/cachetier/cachetier/ring"
)

// shutdownGrace bounds how long a stop signal waits for in-flight commands.
const shutdownGrace = 5 * time.Second

func main() {
	setGCPercent()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultGCPercent is the node's GOGC when the environment sets none. The
// data lives outside the Go heap (the store's arenas are mmapped) and
// serving a command allocates nothing, so the heap is small (about 1 MB
// live) and rarely collected; Go's default of 100 still lets it grow to a
// 4 MB floor before the first collection, which is resident memory for
// good. 50 halves that floor, for collections that seldom happen.
const defaultGCPercent = 50

// setGCPercent applies defaultGCPercent unless GOGC is set.
func setGCPercent() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// options holds the parsed command line.
type options struct {
	cfg      cachenode.Config
	logLevel slog.Level
	version  bool
}

// usageError is a bad command line: reported with a hint and exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("cachenode", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		port       = fs.Int("port", 7000, "TCP `port` to listen on")
		bind       = fs.String("bind", "127.0.0.1", "`address` to listen on")
		maxMemory  = fs.String("maxmemory", "0", "bound on the data held (`size`: 100mb, 2gb, 1k, bytes); 0 = unlimited")
		policy     = fs.String("maxmemory-policy", cachenode.DefaultMaxMemoryPolicy, "eviction `policy`: allkeys-tinylfu, volatile-tinylfu, allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu, allkeys-random, volatile-random, volatile-ttl, noeviction")
		pass       = fs.String("requirepass", "", "require clients to AUTH with this `password`")
		maxClients = fs.Int("maxclients", 10000, "maximum number of connected `clients`")
		timeout    = fs.Int("timeout", 0, "close clients idle for this many `seconds`; 0 = never")
		metrics    = fs.String("metrics-addr", "", "serve Prometheus /metrics, /healthz, /readyz on `host:port`; empty = off")
		slot       = fs.String("slot", "", "the node's `slot` in the ring (0-65535), or auto: the hostname's StatefulSet ordinal (cache-3 -> 3); empty = none")
		dir        = fs.String("dir", ".", "`directory` of the snapshot file, loaded on start if present")
		dbFilename = fs.String("dbfilename", cachenode.DefaultDBFilename, "snapshot file `name` in --dir")
		save       = fs.String("save", "", "save `points` \"<seconds> <changes> ...\": save in the background when reached, and on SIGTERM/SHUTDOWN; empty = only SAVE, BGSAVE, SHUTDOWN SAVE")
		logLevel   = fs.String("loglevel", "notice", "log `level`: debug, verbose, notice, warning")
		version    = fs.Bool("version", false, "print the version and exit")
	)
	fs.Usage = func() {} // errors get a one-line message; --help the list
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "Usage: cachenode [--flag value ...]\n\nA Redis-protocol cache node. Flags (one or two dashes; --flag=value works too):\n\n")
			var buf strings.Builder
			fs.SetOutput(&buf)
			fs.PrintDefaults()
			// Show the redis-server spelling (--flag); Go accepts both.
			io.WriteString(stderr, strings.ReplaceAll("\n"+buf.String(), "\n  -", "\n  --")[1:])
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	if fs.NArg() > 0 && fs.Arg(0) == "tier" {
		return nil, usageError{`unexpected argument "tier" (the ring view is the cachetier command: cachetier --help)`}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected argument %q (cachenode takes no config file; use flags)", fs.Arg(0))}
	}
	o := &options{version: *version}
	if o.version {
		return o, nil
	}
	if *port < 0 || *port > 65535 {
		return nil, usageError{fmt.Sprintf("invalid value %d for --port: must be 0-65535", *port)}
	}
	mem, err := cachenode.ParseSize(*maxMemory)
	if err != nil || mem < 0 {
		return nil, usageError{fmt.Sprintf("invalid value %q for --maxmemory: want a size like 100mb, 2gb, 1k or bytes", *maxMemory)}
	}
	if *maxClients < 1 {
		return nil, usageError{fmt.Sprintf("invalid value %d for --maxclients: must be at least 1", *maxClients)}
	}
	if *timeout < 0 {
		return nil, usageError{fmt.Sprintf("invalid value %d for --timeout: must be 0 (never) or more seconds", *timeout)}
	}
	lvl, ok := parseLogLevel(*logLevel)
	if !ok {
		return nil, usageError{fmt.Sprintf("invalid value %q for --loglevel: want debug, verbose, notice or warning", *logLevel)}
	}
	if *metrics != "" {
		if _, _, err := net.SplitHostPort(*metrics); err != nil {
			return nil, usageError{fmt.Sprintf("invalid value %q for --metrics-addr: want host:port", *metrics)}
		}
	}
	slotN, hasSlot, err := parseSlot(*slot, os.Hostname)
	if err != nil {
		return nil, err
	}
	savePoints, err := cachenode.ParseSavePoints(*save)
	if err != nil {
		return nil, usageError{fmt.Sprintf("invalid value %q for --save: want \"\" or pairs of <seconds> <changes>, like \"3600 1 300 100\"", *save)}
	}
	if *dir == "" {
		return nil, usageError{"invalid value \"\" for --dir: want a directory"}
	}
	o.logLevel = lvl
	o.cfg = cachenode.Config{
		Slot:            slotN,
		HasSlot:         hasSlot,
		Addr:            net.JoinHostPort(*bind, strconv.Itoa(*port)),
		MaxMemory:       mem,
		MaxMemoryPolicy: *policy,
		RequirePass:     *pass,
		MaxClients:      *maxClients,
		Timeout:         time.Duration(*timeout) * time.Second,
		MetricsAddr:     *metrics,
		Dir:             *dir,
		DBFilename:      *dbFilename,
		Save:            savePoints,
	}
	return o, nil
}

// parseSlot reads --slot: "" (none), a slot number, or "auto" (the
// ordinal of the hostname, see cachenode.SlotFromHostname).
func parseSlot(v string, hostname func() (string, error)) (slot int, ok bool, err error) {
	switch v {
	case "":
		return 0, false, nil
	case "auto":
		h, err := hostname()
		if err != nil {
			return 0, false, fmt.Errorf("cachenode: --slot auto: cannot read the hostname: %w", err)
		}
		n, err := cachenode.SlotFromHostname(h)
		if err != nil {
			return 0, false, fmt.Errorf("--slot auto: %s", err.Error())
		}
		return n, true, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n >= ring.MaxSlots {
		return 0, false, usageError{fmt.Sprintf("invalid value %q for --slot: want auto or a slot number 0-%d", v, ring.MaxSlots-1)}
	}
	return n, true, nil
}

// parseLogLevel maps redis-server's log levels (and slog's names) to slog levels.
func parseLogLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug", "verbose":
		return slog.LevelDebug, true
	case "notice", "info":
		return slog.LevelInfo, true
	case "warning", "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// versionString describes the build, like redis-server --version.
func versionString() string {
	v, rev := "devel", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	out := "cachenode v=" + v
	if rev != "" {
		out += " sha=" + rev
	}
	return out + " go=" + runtime.Version()
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s\nRun 'cachenode --help' for the list of flags.\n", prefixed(err))
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	o.cfg.Logger = log

	srv, err := cachenode.New(o.cfg)
	if err != nil {
		// New rejects bad settings (an unknown policy, say): a usage error.
		fmt.Fprintf(stderr, "%s\nRun 'cachenode --help' for the list of flags.\n", prefixed(err))
		return 2
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()

	// Log once the listener is up (or report why it is not).
	if !waitListening(srv, served) {
		err := <-served
		log.Error("cachenode: cannot serve", "addr", o.cfg.Addr, "err", err)
		return 1
	}
	// The server logs its limits when it starts listening; add what only
	// the process knows.
	attrs := []any{"addr", srv.Addr().String(), "version", versionString(), "pid", os.Getpid()}
	if ma := srv.MetricsAddr(); ma != nil {
		attrs = append(attrs, "metrics_addr", ma.String())
	}
	if o.cfg.HasSlot {
		attrs = append(attrs, "slot", o.cfg.Slot)
	} else {
		attrs = append(attrs, "slot", "none")
	}
	log.Info("cachenode ready to accept connections", attrs...)
	// Later lines name the node too: several may share one terminal (make run).
	log = log.With("addr", srv.Addr().String())

	select {
	case err := <-served:
		if !errors.Is(err, cachenode.ErrServerClosed) {
			log.Error("cachenode: server stopped", "err", err)
			return 1
		}
		// A client sent SHUTDOWN: the server is draining its connections.
		// Wait for that below, as for a signal, and exit 0.
		served <- err
	case sig := <-sigs:
		log.Info("cachenode: signal received, shutting down", "signal", sig.String(), "grace", shutdownGrace.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	go func() {
		select {
		case sig := <-sigs:
			log.Warn("cachenode: second signal, closing connections now", "signal", sig.String())
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("cachenode: graceful shutdown cut short; closing remaining connections", "err", err)
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, cachenode.ErrServerClosed) {
		log.Error("cachenode: serve", "err", err)
		return 1
	}
	log.Info("cachenode stopped")
	return 0
}

// prefixed returns err's message starting with "cachenode: " once.
func prefixed(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "cachenode: ") {
		return msg
	}
	return "cachenode: " + msg
}

// waitListening waits until srv has a listener, or ListenAndServe has
// returned (false; the error stays in served for the caller).
func waitListening(srv *cachenode.Server, served chan error) bool {
	for {
		if srv.Addr() != nil {
			return true
		}
		select {
		case err := <-served:
			served <- err
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}
