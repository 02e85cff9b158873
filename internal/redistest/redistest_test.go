package redistest

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cachetier/cachetier/internal/probe"
)

func TestStartPingStop(t *testing.T) {
	s := Start(t)
	if err := WaitPing(s.Addr, 2*time.Second); err != nil {
		t.Fatalf("ping: %v", err)
	}
	s.Stop()
	if err := probe.Ping(s.Addr); err == nil {
		t.Fatalf("server still answers after Stop")
	}
	s.Stop() // idempotent
}

func TestStartWithPassword(t *testing.T) {
	s := Start(t, "--requirepass", "secret")
	if err := WaitPing(s.Addr, 2*time.Second); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
