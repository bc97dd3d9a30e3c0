package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The real binary, stopped by SIGTERM, shuts down cleanly with exit code 0.
func TestBinaryGracefulShutdown(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("SKIPPED: the go command is not on PATH, so the binary cannot be built")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "yoyaku")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "serve", "--demo", "--migrate", "--addr", "127.0.0.1:0",
		"--db", "sqlite", "--data-dir", filepath.Join(dir, "data"), "--log-format", "json")
	cmd.Env = cleanEnv()
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	out, ok := stdout.waitFor(time.Minute, exited, served)
	if !ok {
		t.Fatalf("yoyaku did not start\nstdout: %s\nstderr: %s", out, stderr)
	}
	base := baseURL(t, out)
	if r := request(t, "GET", base+"/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("yoyaku did not exit within 10s of SIGTERM\nstderr: %s", stderr)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0 (%v)\nstderr: %s", code, cmd.ProcessState, stderr)
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no \"stopped\" record in the log:\n%s", stderr)
	}
}

// cleanEnv is the test's environment without YOYAKU_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "YOYAKU_") {
			env = append(env, kv)
		}
	}
	return env
}
