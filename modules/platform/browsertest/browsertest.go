// Package browsertest drives headless Chromium (chromedp) for tests that
// check what a person sees: the booking site at a phone viewport and the
// console at a desktop one. It uses the machine's Chromium and never lets a
// tool download a browser. Without Chromium a test is skipped loudly, and
// with CI=true it fails. When a test fails, a screenshot of every page it
// drives is saved as an artefact (YOYAKU_TEST_ARTIFACTS, default
// bin/test-artifacts in the repository).
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Viewports the UI is tested at.
var (
	Phone   = Viewport{390, 844}
	Desktop = Viewport{1366, 768}
)

// Viewport is a window size in CSS pixels.
type Viewport struct{ W, H int64 }

// candidates are where Debian and others put Chromium.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium", "/usr/lib/chromium/chromium"}

// Find returns the path of a Chromium binary, or "".
func Find() string {
	if p := os.Getenv("YOYAKU_CHROMIUM"); p != "" {
		return p
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless browser for t at viewport v and returns its
// context; everything is closed when t ends. On failure, a screenshot of
// the current page is saved.
func New(t *testing.T, v Viewport) context.Context {
	t.Helper()
	bin := Find()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but Chromium is not installed (apt-get install chromium)")
		}
		t.Skip("BROWSER TESTS SKIPPED: Chromium not found (apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Japanese first, as our users are.
		chromedp.Flag("lang", "ja-JP"),
		chromedp.Flag("accept-lang", "ja-JP,ja"),
		chromedp.WindowSize(int(v.W), int(v.H)),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// Start the browser now, so a broken installation fails here.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(v.W, v.H)); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting Chromium (%s): %v", bin, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			Screenshot(t, ctx, "failure")
		}
		cancel()
		cancelAlloc()
	})
	return ctx
}

// Do runs steps with a deadline, failing t with what was being done (and
// a screenshot of the page at that moment).
func Do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		Screenshot(t, ctx, what)
		t.Fatalf("%s: %v", what, err)
	}
}

// Get runs one action that returns a value, like Do.
func Get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		Screenshot(t, ctx, what)
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves the current page as ARTIFACTS/<test>-<name>.png and
// logs where.
func Screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("YOYAKU_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(), "bin", "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	file := filepath.Join(dir, unsafeName.ReplaceAllString(t.Name()+"-"+name, "_")+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot saved: %s", file)
}

func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/yoyaku-oss/yoyaku\n") {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
