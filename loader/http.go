package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxBytes is the body size limit of [HTTP] when MaxBytes is 0.
const DefaultMaxBytes = 32 << 20

// ErrTooLarge is returned (wrapped) by [HTTP] when the origin's body exceeds
// MaxBytes.
var ErrTooLarge = errors.New("loader: origin value too large")

// maxErrorBody bounds how much of an error response StatusError keeps.
const maxErrorBody = 512

// HTTP loads GET base+url.PathEscape(key): 200 → value (TTL from Cache-Control
// max-age if present), 404 → ErrNotFound, other statuses → *StatusError
// (wrapping); body size capped (MaxBytes).
//
// The key is escaped as one path segment, so "a/b c" becomes "a%2Fb%20c" and
// Base should end with "/" (for example "http://origin:8080/items/"). Keys
// "." and ".." are sent as they are, and servers may treat them as dot
// segments; avoid such keys with HTTP origins.
//
// TTL: s-maxage (the directive for shared caches) or else max-age of the
// response's Cache-Control header, minus its Age header, becomes Result.TTL.
// When that is absent, unparsable or not positive (max-age=0, no-cache and
// no-store included), TTL is 0 and the client's default applies: an origin
// whose answers must never be cached should not sit behind a cache.
//
// The zero value is not usable: Base must be set. HTTP is safe for concurrent
// use; its fields must not change once loads have started.
type HTTP struct {
	// Base is the URL prefix the escaped key is appended to.
	Base string
	// Client sends the requests; nil means http.DefaultClient. Bound load
	// time with the ctx passed to Load (cacheclient does) or Client.Timeout.
	Client *http.Client
	// MaxBytes caps the body of a 200 response; a larger body fails the load
	// with ErrTooLarge instead of being read into memory. 0 means
	// DefaultMaxBytes (32 MiB); negative means no limit.
	MaxBytes int64
	// Header holds extra request headers (authorization, tracing...); nil
	// means none.
	Header http.Header
}

// StatusError reports an origin response other than 200 or 404. HTTP.Load
// returns it wrapped; use errors.As to get it.
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Body is the start of the response body (at most 512 bytes), for
	// diagnostics.
	Body string
}

// Error implements error.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("loader: origin status %d %s", e.Code, http.StatusText(e.Code))
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + b
	}
	return msg
}

// Load fetches key from the origin. See [HTTP] for the mapping of responses.
func (h *HTTP) Load(ctx context.Context, key string) (Result, error) {
	u := h.Base + url.PathEscape(key)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Result{}, fmt.Errorf("loader: GET %s: %w", u, err)
	}
	for k, vs := range h.Header {
		req.Header[k] = vs
	}
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("loader: %w", err) // *url.Error names method and URL
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusOK:
		v, err := h.readBody(resp)
		if err != nil {
			return Result{}, fmt.Errorf("loader: GET %s: %w", u, err)
		}
		return Result{Value: v, TTL: cacheTTL(resp.Header)}, nil
	case http.StatusNotFound:
		drain(resp.Body)
		return Result{}, ErrNotFound
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		drain(resp.Body)
		return Result{}, fmt.Errorf("loader: GET %s: %w", u, &StatusError{Code: resp.StatusCode, Body: string(b)})
	}
}

// readBody reads a 200 body, enforcing MaxBytes.
func (h *HTTP) readBody(resp *http.Response) ([]byte, error) {
	limit := h.MaxBytes
	if limit == 0 {
		limit = DefaultMaxBytes
	}
	if limit < 0 {
		return io.ReadAll(resp.Body)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d bytes", ErrTooLarge, resp.ContentLength, limit)
	}
	if resp.ContentLength >= 0 {
		// The transport stops at Content-Length: read exactly that.
		v := make([]byte, resp.ContentLength)
		if _, err := io.ReadFull(resp.Body, v); err != nil {
			return nil, err
		}
		return v, nil
	}
	v, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(v)) > limit {
		return nil, fmt.Errorf("%w: body exceeds %d bytes", ErrTooLarge, limit)
	}
	return v, nil
}

// drain reads a little of what is left of a body so the connection can be
// reused; a large remainder is left (the connection is then closed).
func drain(r io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 4<<10))
}

// cacheTTL derives a freshness lifetime from Cache-Control and Age.
func cacheTTL(h http.Header) time.Duration {
	var maxAge, sMaxAge int64 = -1, -1
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				if n, err := strconv.ParseInt(val, 10, 64); err == nil && n >= 0 {
					maxAge = n
				}
			case "s-maxage":
				if n, err := strconv.ParseInt(val, 10, 64); err == nil && n >= 0 {
					sMaxAge = n
				}
			}
		}
	}
	secs := maxAge
	if sMaxAge >= 0 {
		secs = sMaxAge
	}
	if secs < 0 {
		return 0
	}
	if age, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && age > 0 {
		secs -= age
	}
	const maxSecs = int64(1<<63-1) / int64(time.Second)
	if secs <= 0 {
		return 0
	}
	if secs > maxSecs {
		secs = maxSecs
	}
	return time.Duration(secs) * time.Second
}
