package store

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSetGetBasic(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	if _, ok := s.Get(nil, []byte("k")); ok {
		t.Fatal("hit on empty store")
	}
	s.Set([]byte("k"), []byte("v"), SetArgs{}, nil)
	v, ok := s.Get(nil, []byte("k"))
	if !ok || string(v) != "v" {
		t.Fatalf("got %q %v", v, ok)
	}
}
