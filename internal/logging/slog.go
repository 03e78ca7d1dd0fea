package logging

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// goKitHandler writes slog records (exporter-toolkit logs through slog)
// as the project's go-kit loggers write theirs: level, ts, caller, msg,
// then the attributes, in the same format. So every line of a run looks
// alike, whichever library wrote it.
type goKitHandler struct {
	logger log.Logger // the filtered base: no ts or caller of its own
	min    slog.Level
	attrs  []any // from WithAttrs, as key-value pairs
	group  string
}

func (h *goKitHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *goKitHandler) Handle(_ context.Context, r slog.Record) error {
	kv := make([]any, 0, 8+len(h.attrs)+2*r.NumAttrs())
	kv = append(kv, level.Key(), levelValue(r.Level), "ts", r.Time.UTC().Format(time.RFC3339Nano), "caller", caller(r.PC), "msg", r.Message)
	kv = append(kv, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		kv = h.appendAttr(kv, a)
		return true
	})
	return h.logger.Log(kv...)
}

func (h *goKitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]any(nil), h.attrs...)
	for _, a := range attrs {
		c.attrs = h.appendAttr(c.attrs, a)
	}
	return &c
}

func (h *goKitHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = h.group + name + "."
	return &c
}

func (h *goKitHandler) appendAttr(kv []any, a slog.Attr) []any {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			kv = h.appendAttr(kv, slog.Attr{Key: a.Key + "." + g.Key, Value: g.Value})
		}
		return kv
	}
	return append(kv, h.group+a.Key, v.Any())
}

// caller is "file.go:123", as go-kit's DefaultCaller writes it.
func caller(pc uintptr) string {
	if pc == 0 {
		return "unknown"
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	return fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
}

func levelValue(l slog.Level) level.Value {
	switch {
	case l >= slog.LevelError:
		return level.ErrorValue()
	case l >= slog.LevelWarn:
		return level.WarnValue()
	case l >= slog.LevelInfo:
		return level.InfoValue()
	}
	return level.DebugValue()
}
