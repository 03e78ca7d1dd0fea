// Package logging builds the project's go-kit loggers from --log.level and
// --log.format.
package logging

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	sloggokit "github.com/tjhop/slog-gokit"
)

// New builds the project's go-kit logger and a slog bridge for
// exporter-toolkit. The bridge gets the base logger, which has no ts or
// caller keys: the bridge adds its own, and they would otherwise repeat.
func New(levelName, format string) (log.Logger, *slog.Logger, error) {
	var base log.Logger
	switch format {
	case "logfmt":
		base = log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr))
	case "json":
		base = log.NewJSONLogger(log.NewSyncWriter(os.Stderr))
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
	return logger, slog.New(sloggokit.NewGoKitHandler(base, slogLevel)), nil
}
