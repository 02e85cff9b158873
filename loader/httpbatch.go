package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// DefaultMaxKeys is the number of keys per request of [HTTPBatch] when
// MaxKeys is 0.
const DefaultMaxKeys = 100

// HTTPBatch is the batch form of [HTTP], for origins with a multi-get
// endpoint:
//
//	POST <URL>
//	Content-Type: application/json
//
//	{"keys": ["user:1", "user:2", "user:3"]}
//
//	200 OK
//	Content-Type: application/json
//	Cache-Control: max-age=60
//
//	{"user:1": {"name": "Ada"}, "user:2": null}
//
// The response is a JSON object keyed by key. A key's value is the JSON text
// of its member, stored as it is (here {"name": "Ada"}, 15 bytes; a string
// member keeps its quotes), which suits Typed with the JSON codec. A key
// that is absent from the object, or null, is ErrNotFound. Cache-Control
// (s-maxage or max-age, minus Age) gives every key of the response its TTL,
// as for [HTTP]. A status other than 200 fails every key of the request
// with a *StatusError (wrapped).
//
// More than MaxKeys keys are sent as several requests, one after another.
// The zero value is not usable: URL must be set. HTTPBatch is safe for
// concurrent use; its fields must not change once loads have started.
type HTTPBatch struct {
	// URL is where the keys are POSTed.
	URL string
	// Client sends the requests; nil means http.DefaultClient.
	Client *http.Client
	// MaxKeys bounds the keys per request; 0 means DefaultMaxKeys.
	MaxKeys int
	// MaxBytes caps the body of one response, as HTTP.MaxBytes (0:
	// DefaultMaxBytes; negative: no limit).
	MaxBytes int64
	// Header holds extra request headers; nil means none.
	Header http.Header
}

// LoadMany fetches keys from the origin. See [HTTPBatch] for the protocol.
func (h *HTTPBatch) LoadMany(ctx context.Context, keys []string) ([]KeyResult, error) {
	per := h.MaxKeys
	if per <= 0 {
		per = DefaultMaxKeys
	}
	res := make([]KeyResult, 0, len(keys))
	for len(keys) > 0 {
		n := min(per, len(keys))
		part, err := h.post(ctx, keys[:n])
		if err != nil {
			return nil, err
		}
		res = append(res, part...)
		keys = keys[n:]
	}
	return res, nil
}

// post sends one request for keys.
func (h *HTTPBatch) post(ctx context.Context, keys []string) ([]KeyResult, error) {
	body, err := json.Marshal(struct {
		Keys []string `json:"keys"`
	}{keys})
	if err != nil {
		return nil, fmt.Errorf("loader: POST %s: %w", h.URL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("loader: POST %s: %w", h.URL, err)
	}
	for k, vs := range h.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		drain(resp.Body)
		return nil, fmt.Errorf("loader: POST %s: %w", h.URL, &StatusError{Code: resp.StatusCode, Body: string(b)})
	}
	raw, err := (&HTTP{MaxBytes: h.MaxBytes}).readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("loader: POST %s: %w", h.URL, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("loader: POST %s: response is not a JSON object: %w", h.URL, err)
	}
	ttl := cacheTTL(resp.Header)
	res := make([]KeyResult, len(keys))
	for i, k := range keys {
		v, ok := m[k]
		if !ok || string(v) == "null" {
			res[i].Err = ErrNotFound
			continue
		}
		res[i].Result = Result{Value: v, TTL: ttl}
	}
	return res, nil
}
