package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// raceEnabled is set by race_test.go when the tests run with -race.
var raceEnabled bool

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// caddyBinary builds the example Caddy (standard modules, sse_hub and its
// "caddy sse-hub" command) once per test run, so the CLI is tested as users
// run it. It is built with -race when the tests are, so the build reuses the
// packages the test build has already compiled.
func caddyBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(workDir, "bin", "caddy")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/ssehub/sse_hub/example")
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// requireTool fails (never skips) when a program the tests run is missing:
// a skipped snippet test would let the README drift unnoticed.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not on PATH; the publishing tests need curl, node, python3 and php with its curl extension (.ci/run installs php-cli and php-curl)", name)
	}
}

// toolEnv is the environment for programs the tests run: this process's,
// without proxy settings (the admin endpoint is on loopback), with
// CADDY_ADMIN naming the test Caddy's admin endpoint, then extra
// ("KEY=value") on top.
func toolEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if key == "CADDY_ADMIN" || strings.HasSuffix(strings.ToLower(key), "_proxy") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "CADDY_ADMIN="+adminAddr)
	return append(env, extra...)
}

// toolResult is how a program ended.
type toolResult struct {
	code           int
	stdout, stderr string
}

func (r toolResult) String() string {
	return fmt.Sprintf("exit status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runTool runs a program in dir with env and stdin, and waits for it
// (bounded: a Go snippet may compile first).
func runTool(t *testing.T, dir string, env []string, stdin string, name string, args ...string) toolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := toolResult{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running %s %q: %v", name, args, err)
	}
	return res
}

// sseHub runs the test Caddy binary's "sse-hub" command with stdin.
func sseHub(t *testing.T, env []string, stdin string, args ...string) toolResult {
	t.Helper()
	return runTool(t, t.TempDir(), env, stdin, caddyBinary(t), append([]string{"sse-hub"}, args...)...)
}
