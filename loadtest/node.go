package loadtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/cachetier/cachetier/cachenode"
)

// builtinNode says NodeMain runs a real cachenode.
const builtinNode = true

// NodeMain runs a cachenode server, the node mode of the loadtest binary
// (args after NodeArg): --port N, --bind ADDR, --maxmemory SIZE, --dir DIR
// and --save POINTS as for cmd/cachenode. It serves until SIGINT/SIGTERM or until its stdin closes,
// so a node never outlives the loadtest that started it.
func NodeMain(args []string) error {
	fs := flag.NewFlagSet("loadtest "+NodeArg, flag.ContinueOnError)
	port := fs.Int("port", 7000, "TCP port")
	bind := fs.String("bind", "127.0.0.1", "address to listen on")
	maxmem := fs.String("maxmemory", "0", "memory limit (e.g. 64mb; 0 = none)")
	dir := fs.String("dir", "", "snapshot directory (empty: snapshots off)")
	save := fs.String("save", "", "save points, as cachenode --save")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mm, err := cachenode.ParseSize(*maxmem)
	if err != nil {
		return fmt.Errorf("--maxmemory: %w", err)
	}
	addr := net.JoinHostPort(*bind, strconv.Itoa(*port))
	pts, err := cachenode.ParseSavePoints(*save)
	if err != nil {
		return err
	}
	srv, err := cachenode.New(cachenode.Config{Addr: addr, MaxMemory: mm, Dir: *dir, Save: pts})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case err := <-served:
		return err
	case <-sig:
	case <-eof:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
