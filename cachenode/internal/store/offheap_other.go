//go:build !unix

package store

const offheap = false

func mmapBytes(n int) ([]byte, error) { return make([]byte, n), nil }

func munmapBytes(b []byte) {}

func dropPages(b []byte) {}
