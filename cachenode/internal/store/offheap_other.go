//go:build !unix

package store

const offheap = false

func mmapBytes(n int) []byte { return make([]byte, n) }

func munmapBytes(b []byte) {}

func dropPages(b []byte) {}
