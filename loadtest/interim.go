package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/sync/singleflight"
)

// TODO(loadtest): interim until cacheclient and cachenode land on main.

// DefaultClient builds the client each client process drives by default.
func DefaultClient(s ClientSetup) (Client, error) {
	return &originOnly{base: s.OriginURL, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}, nil
}

type originOnly struct {
	base string
	hc   *http.Client
	g    singleflight.Group
}

func (c *originOnly) Get(ctx context.Context, key string, dst []byte) ([]byte, Outcome, error) {
	v, err, shared := c.g.Do(key, func() (any, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", c.base+key, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("origin: %s", resp.Status)
		}
		return b, err
	})
	if err != nil {
		return dst, Outcome{}, err
	}
	return append(dst, v.([]byte)...), Outcome{Source: SourceOrigin, Shared: shared}, nil
}
func (c *originOnly) IsShed(err error) bool         { return false }
func (c *originOnly) SetAddrs(addrs []string) error { return nil }
func (c *originOnly) NodesUp() int                  { return -1 }
func (c *originOnly) Close() error                  { c.hc.CloseIdleConnections(); return nil }

// builtinNode says NodeMain runs a real cachenode.
const builtinNode = false

// NodeMain runs a cache node with redis-server-style flags until its stdin
// closes or it gets SIGINT/SIGTERM.
func NodeMain(args []string) error {
	return errors.New("cachenode is not available in this build; use --node-bin redis-server")
}
