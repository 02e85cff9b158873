// Loggers for tests.

package cachenode

import (
	"io"
	"log/slog"
	"os"
)

// discardLogger shows only errors (e.g. recovered panics) in test output.
func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func newBufLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelError}))
}
