package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// README's flag tables say what each program's --help says: the same
// flags, and the same defaults where --help shows one.
func TestREADMEFlagTablesMatchHelp(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	programs := map[string]string{"squid-cache-exporter": binary}
	for _, name := range []string{"squid-store-id-helper", "squid-icap-service"} {
		programs[name] = filepath.Join(bin, name)
		if out, err := exec.Command("go", "build", "-o", programs[name], "../"+name).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
	}
	tables := flagTables(string(readme))
	global := helpFlags(t, programs["squid-cache-exporter"])
	for table, rows := range tables {
		program, command, _ := strings.Cut(table, " ")
		want := helpFlags(t, programs[program], command)
		if command != "" { // a command's table lists only its own flags
			for name := range global {
				delete(want, name)
			}
		}
		compare(t, table, rows, want)
	}
	for _, table := range []string{"squid-cache-exporter", "squid-cache-exporter probe", "squid-store-id-helper", "squid-icap-service"} {
		if tables[table] == nil {
			t.Errorf("README has no flag table marked <!-- flags: %s -->", table)
		}
	}
}

func compare(t *testing.T, table string, rows, help map[string]string) {
	t.Helper()
	for name, def := range help {
		row, ok := rows[name]
		switch {
		case !ok:
			t.Errorf("%s: --%s is not in README's table", table, name)
		case def != "" && !strings.Contains(row, "`"+def+"`"):
			t.Errorf("%s: --%s defaults to %q, README says %q", table, name, def, row)
		}
	}
	for name := range rows {
		if _, ok := help[name]; !ok {
			t.Errorf("%s: README lists --%s, which --help does not", table, name)
		}
	}
}

var (
	tableMarker = regexp.MustCompile(`(?m)^<!-- flags: ([a-z -]+) -->\n((?:\|.*\n)+)`)
	tableFlag   = regexp.MustCompile("^\\| `--(?:\\[no-\\])?([a-z0-9._-]+)`[^|]*\\| ([^|]*)\\|")
	helpFlag    = regexp.MustCompile(`^\s+(?:-\w, )?--(?:\[no-\])?([a-z0-9][a-z0-9._-]*)(?:=(\S+))?`)
)

// flagTables are README's marked tables: flag name to its default cell.
func flagTables(readme string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, m := range tableMarker.FindAllStringSubmatch(readme, -1) {
		rows := map[string]string{}
		for _, line := range strings.Split(m[2], "\n") {
			if f := tableFlag.FindStringSubmatch(line); f != nil {
				rows[f[1]] = strings.TrimSpace(f[2])
			}
		}
		out[m[1]] = rows
	}
	return out
}

// helpFlags are the flags --help lists, with the default it shows (""
// for none, a placeholder, or a boolean).
func helpFlags(t *testing.T, program string, args ...string) map[string]string {
	t.Helper()
	args = slices.DeleteFunc(append(args, "--help"), func(a string) bool { return a == "" })
	out, _ := exec.Command(program, args...).CombinedOutput()
	flags := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		m := helpFlag.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(m[1], "help") || strings.HasPrefix(m[1], "completion") {
			continue
		}
		def := strings.Trim(m[2], `"`)
		if isPlaceholder(def) || len(def) > 40 { // long defaults (URL patterns) are described, not quoted
			def = ""
		}
		flags[m[1]] = def
	}
	if len(flags) == 0 {
		t.Fatalf("%s %v: no flags in:\n%s", program, args, out)
	}
	return flags
}

// isPlaceholder says --help shows no default but a name such as
// PROBE.CONFIG.
func isPlaceholder(s string) bool {
	return s == strings.ToUpper(s) && strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}
