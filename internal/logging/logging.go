// Package logging builds the project's go-kit loggers from --log.level and
// --log.format.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// New builds the project's go-kit logger and, for exporter-toolkit, which
// logs through slog, a slog logger that writes the same lines: one format
// for every line of a run, chosen by --log.format, and one level.
func New(levelName, format string) (log.Logger, *slog.Logger, error) {
	return NewTo(os.Stderr, levelName, format)
}

// NewTo is New writing to w.
func NewTo(w io.Writer, levelName, format string) (log.Logger, *slog.Logger, error) {
	var base log.Logger
	switch format {
	case "logfmt":
		base = log.NewLogfmtLogger(log.NewSyncWriter(w))
	case "json":
		base = log.NewJSONLogger(log.NewSyncWriter(w))
	default:
		return nil, nil, fmt.Errorf("--log.format: want logfmt or json, got %q", format)
	}
	var allow level.Option
	var slogLevel slog.Level
	switch levelName {
	case "debug":
		allow, slogLevel = level.AllowDebug(), slog.LevelDebug
	case "info":
		allow, slogLevel = level.AllowInfo(), slog.LevelInfo
	case "warn":
		allow, slogLevel = level.AllowWarn(), slog.LevelWarn
	case "error":
		allow, slogLevel = level.AllowError(), slog.LevelError
	default:
		return nil, nil, fmt.Errorf("--log.level: want debug, info, warn or error, got %q", levelName)
	}
	base = level.NewFilter(base, allow)
	logger := log.With(base, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller)
	return logger, slog.New(&goKitHandler{logger: base, min: slogLevel}), nil
}
