package testenv

import (
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"testing"
)

// Program lets a program (the demo behind `make run`) run the test
// harnesses, which take a testing.TB: their cleanups run on Close, and a
// harness failure stops the program after cleaning up.
type Program struct {
	testing.TB // nil: only the methods below are used by the harnesses
	name       string
	mu         sync.Mutex
	cleanups   []func()
}

// NewProgram returns a Program named name (for its log lines).
func NewProgram(name string) *Program { return &Program{name: name} }

// Close runs the cleanups, last registered first.
func (p *Program) Close() {
	p.mu.Lock()
	fs := slices.Clone(p.cleanups)
	p.cleanups = nil
	p.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}

func (p *Program) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

func (p *Program) Helper()                           {}
func (p *Program) Name() string                      { return p.name }
func (p *Program) Log(args ...any)                   { log.Print(args...) }
func (p *Program) Logf(format string, args ...any)   { log.Printf(format, args...) }
func (p *Program) Error(args ...any)                 { p.Fatal(args...) }
func (p *Program) Errorf(format string, args ...any) { p.Fatalf(format, args...) }
func (p *Program) Fatal(args ...any)                 { p.fail(fmt.Sprint(args...)) }
func (p *Program) Fatalf(format string, args ...any) { p.fail(fmt.Sprintf(format, args...)) }
func (p *Program) FailNow()                          { p.fail("failed") }
func (p *Program) Skip(args ...any)                  { p.fail(fmt.Sprint(args...)) }
func (p *Program) Skipf(format string, args ...any)  { p.fail(fmt.Sprintf(format, args...)) }

// TempDir is a fresh directory, removed on Close.
func (p *Program) TempDir() string {
	dir, err := os.MkdirTemp("", p.name+"-")
	if err != nil {
		p.fail(err.Error())
	}
	p.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (p *Program) fail(msg string) {
	log.Printf("%s: %s", p.name, msg)
	p.Close()
	os.Exit(1)
}
