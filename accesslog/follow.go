package accesslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// maxLine bounds one log line; a longer one is dropped and counted as
// malformed. Squid's own request line limit is 64 KiB.
const maxLine = 64 << 10

// Follower tails a log file as Squid writes it. It starts at the end, and
// survives rotation both by rename (logrotate's create, Squid's own
// -k rotate) and by truncation (logrotate's copytruncate).
type Follower struct {
	Path   string
	Hub    *Hub
	Poll   time.Duration // how often to look for new lines; 0 is DefaultReadInterval (while a watch waits: every 5 ms)
	Logger log.Logger
}

// Start opens the file at its end and follows it until ctx ends. Every
// line written after Start returns is read: callers need not wait for the
// follower. A file that does not exist yet is waited for, and read from its
// start once it appears; any other error (no permission, say) is returned.
func (f *Follower) Start(ctx context.Context) error {
	t := &tail{f: f, lines: newSplitter(f.Hub, nil), chunk: make([]byte, 32<<10)}
	if err := t.openAtStart(); err != nil {
		return err
	}
	go t.follow(ctx)
	return nil
}

// openAtStart opens the file at its end; a missing file is no error.
func (t *tail) openAtStart() error {
	err := t.open(true)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		t.waiting(err)
		return nil
	}
	return fmt.Errorf("access log %s: %w", t.f.Path, describeOpen(err))
}

// waiting logs, once, that the file cannot be opened yet.
func (t *tail) waiting(err error) {
	if !t.missing {
		level.Warn(t.f.Logger).Log("msg", "cannot open the access log; waiting for it", "path", t.f.Path, "err", describeOpen(err))
		t.missing = true
	}
}

// follow reads until ctx ends: everything new each Poll, so that the
// lines Squid wrote one by one meanwhile cost one wakeup. A look costs the
// process about 250 µs of CPU even when nothing is new (three system calls
// and the runtime's wakeups), as much as parsing a few hundred lines. A watch
// that starts waiting has it look at once, and while one waits it looks
// every waitingPoll: a probe round does not wait for Poll.
func (t *tail) follow(ctx context.Context) {
	defer t.close()
	poll := t.f.Poll
	if poll <= 0 {
		poll = DefaultReadInterval
	}
	next := time.NewTimer(poll)
	defer next.Stop()
	for {
		nudge, waiting := t.f.Hub.watched()
		if waiting {
			next.Reset(min(poll, waitingPoll))
		} else {
			next.Reset(poll)
		}
		select {
		case <-ctx.Done():
			return
		case <-next.C:
		case <-nudge:
		}
		t.step()
	}
}

// tail is the state of one Follow.
type tail struct {
	f       *Follower
	file    *os.File
	ino     uint64
	offset  int64
	lines   *splitter
	chunk   []byte // read buffer
	missing bool   // logged that the file is missing

	// The file rotated out, read on for rotateGrace: with logrotate's
	// "create" the new file appears before Squid reopens its logs, and
	// Squid writes to the old one until then.
	old      *os.File
	oldLines *splitter
	oldUntil time.Time
}

// rotateGrace is how long a rotated-out file is still read.
const rotateGrace = 30 * time.Second

// step reads what is new, then handles rotation. A file opened here is
// new (created or rotated in): it is read from its start.
func (t *tail) step() {
	if t.file == nil {
		if err := t.open(false); err != nil {
			t.waiting(err)
			return
		}
	}
	t.read()
	t.readOld()
	st, err := os.Stat(t.f.Path)
	switch {
	case err != nil:
		// Renamed away, and no new file yet: Squid writes to the old one
		// until it reopens its logs (squid -k rotate first flushes its
		// buffer there), so it is read on until a new file is in place.
	case inode(st) != t.ino:
		// A new file, read from its start; the old one is read on for a
		// while, in case Squid has not reopened its logs yet.
		t.read()
		t.retire()
		if t.open(false) == nil {
			t.read()
		}
	case st.Size() < t.offset:
		level.Info(t.f.Logger).Log("msg", "access log truncated; reading it from the start", "path", t.f.Path)
		t.offset = 0
		t.lines.reset()
		if _, err := t.file.Seek(0, io.SeekStart); err == nil {
			t.read()
		}
	}
}

// open opens the file, at its end or its start.
func (t *tail) open(atEnd bool) error {
	file, err := os.Open(t.f.Path)
	if err != nil {
		return err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return err
	}
	t.file, t.ino, t.offset, t.missing = file, inode(st), 0, false
	t.lines.reset()
	if atEnd {
		t.offset, _ = file.Seek(0, io.SeekEnd)
	}
	return nil
}

func describeOpen(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return errors.New("permission denied: Squid creates access.log mode 0640 owned by its user; run with that group")
	}
	return err
}

// read publishes every complete line written since the last read.
func (t *tail) read() {
	if t.file == nil {
		return
	}
	for {
		n, err := t.file.Read(t.chunk)
		t.offset += int64(n)
		t.lines.feed(t.chunk[:n])
		if n == 0 || err != nil {
			return
		}
	}
}

// retire keeps the current file as the old one, with its partial line.
func (t *tail) retire() {
	t.closeOld()
	t.old, t.oldLines, t.oldUntil = t.file, t.lines, time.Now().Add(rotateGrace)
	t.file, t.lines = nil, newSplitter(t.lines.hub, nil)
}

// readOld reads what Squid still wrote to the rotated-out file, and lets
// it go after rotateGrace.
func (t *tail) readOld() {
	if t.old == nil {
		return
	}
	for {
		n, err := t.old.Read(t.chunk)
		t.oldLines.feed(t.chunk[:n])
		if n == 0 || err != nil {
			break
		}
	}
	if time.Now().After(t.oldUntil) {
		t.closeOld()
	}
}

func (t *tail) closeOld() {
	if t.old != nil {
		t.old.Close()
		t.old, t.oldLines = nil, nil
	}
}

func (t *tail) close() {
	t.closeOld()
	if t.file != nil {
		t.file.Close()
		t.file = nil
	}
}

func inode(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}
