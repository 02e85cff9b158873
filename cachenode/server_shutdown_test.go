// Tests of the SHUTDOWN command.

package cachenode

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SHUTDOWN stops the server as Shutdown does: the caller's connection closes
// without a reply (go-redis reports that as success), a client's pipeline
// already sent is answered, no new connection is accepted, and Serve returns
// ErrServerClosed (startServer's cleanup checks it). SAVE fails without a
// dir (snapshots off), as a failed save does in Redis, and an
// unauthenticated client cannot shut it down.
func TestShutdownCommand(t *testing.T) {
	s := startServer(t, Config{RequirePass: "pw"})
	ctx := context.Background()
	addr := s.Addr().String()

	anon := newClient(t, addr, nil)
	if err := anon.Shutdown(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("unauthenticated SHUTDOWN: %v, want NOAUTH", err)
	}
	// No retries: go-redis would send SHUTDOWN again after the close.
	rdb := newClient(t, addr, &redis.Options{Password: "pw", MaxRetries: -1})
	if err := rdb.ShutdownSave(ctx).Err(); err == nil || err.Error() != "ERR Errors trying to SHUTDOWN. Check logs." {
		t.Fatalf("SHUTDOWN SAVE: %v", err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("server gone after a refused SHUTDOWN: %v", err)
	}

	// A client with a pipeline sent just before the SHUTDOWN gets its replies.
	other := newClient(t, addr, &redis.Options{Password: "pw"})
	if err := other.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	pipe := other.Pipeline()
	for i := 0; i < 100; i++ {
		pipe.Incr(ctx, "n")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}

	if err := rdb.Shutdown(ctx).Err(); err != nil {
		t.Fatalf("SHUTDOWN: %v (go-redis expects the connection to close)", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections 10 s after SHUTDOWN")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := other.Ping(ctx).Err(); err == nil {
		t.Error("a connection still answers after SHUTDOWN")
	}
	select {
	case <-s.life.closed:
	default:
		t.Error("server not closed after SHUTDOWN")
	}
	if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown after SHUTDOWN: %v", err)
	}
}
