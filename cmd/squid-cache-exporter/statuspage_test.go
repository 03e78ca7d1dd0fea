package main

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/quaytest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// The status page, in a real browser, behind basic auth from
// --web.config.file, while one probe target passes and one fails: it says
// Squid is up, gives each verdict with its reason, and the hit ratio.
// STATUS_PAGE_SCREENSHOT=path keeps the screenshot (make screenshot).
func TestStatusPageInBrowser(t *testing.T) {
	chromium := squidtest.RequireTool(t, "chromium", "/usr/bin/chromium", "chromium")
	l := newProbeLab(t)
	const user, password = "admin", "status-page-pw"
	hash, _ := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	os.WriteFile(webConfig, fmt.Appendf(nil, "basic_auth_users:\n  %s: %s\n", user, hash), 0o600)
	p := startBinary(t, append(l.flags(l.notCached), "--web.config.file="+webConfig,
		"--squid.access-log.registry=quay.io="+quaytest.RegistryName+","+quaytest.CDNName,
		"--squid.access-log.registry=registry.access.redhat.com="+quaytest.PublicName)...)

	if code := status(t, p.URL+"/", "", ""); code != http.StatusUnauthorized {
		t.Errorf("without a password: %d, want 401", code)
	}
	waitForVerdicts(t, p.URL, user, password, 2)

	u := strings.Replace(p.URL, "http://", "http://"+user+":"+password+"@", 1) + "/"
	dom := runChromium(t, chromium, "--dump-dom", u)
	if !regexp.MustCompile(`UP</span> http://127\.0\.0\.1:\d+: Squid \d+\.\d+, up \d`).MatchString(dom) {
		t.Errorf("page does not say Squid is up, with its version:\n%s", dom)
	}
	for _, want := range []string{"PASS", "FAIL", "not_cached", "TCP_MISS",
		"Blob hit ratio", "<td>registry.access.redhat.com</td><td>50.0% (1 of 2)</td>",
		"<td>quay.io</td><td>0.0% (0 of 2)</td>", `href="/metrics"`, `href="/dashboard.json"`, "probe now"} {
		if !strings.Contains(dom, want) {
			t.Errorf("page lacks %q:\n%s", want, dom)
		}
	}

	shot := os.Getenv("STATUS_PAGE_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "status.png")
	}
	runChromium(t, chromium, "--screenshot="+shot, "--window-size=1280,800", u)
	checkScreenshot(t, shot)
}

// waitForVerdicts polls /metrics until n targets have a verdict: the
// first rounds start within 20 s.
func waitForVerdicts(t *testing.T, base, user, password string, n int) {
	t.Helper()
	var body string
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		req.SetBasicAuth(user, password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body = string(b); strings.Count(body, "\nsquid_probe_success{") >= n {
			return
		}
	}
	t.Fatalf("fewer than %d verdicts on /metrics:\n%s", n, body)
}

func status(t *testing.T, u, user, password string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// runChromium runs headless Chromium once, with the flags that keep it off
// the network it cannot reach, and returns what it printed.
func runChromium(t *testing.T, chromium string, args ...string) string {
	t.Helper()
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir()}
	cmd := exec.Command(chromium, append(flags, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("chromium %v did not finish:\n%s", args, stderr.String())
	}
	return stdout.String()
}

// checkScreenshot reads the PNG: the page's size, and the landing page's
// orange header drawn at its top.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 800 {
		t.Errorf("screenshot is %v, want 1280x800", b)
	}
	r, g, b, _ := img.At(20, 10).RGBA()
	if r>>8 != 0xe6 || g>>8 != 0x52 || b>>8 != 0x2c {
		t.Errorf("pixel (20,10) is #%02x%02x%02x, want the header's #e6522c", r>>8, g>>8, b>>8)
	}
}
