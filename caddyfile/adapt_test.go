package caddyfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// TestAdaptGolden pins the Caddyfile syntax: each testdata/adapt/*.caddytest
// holds a Caddyfile, a line of dashes, and the JSON it must adapt to. Run
// with UPDATE_GOLDEN=1 to print the actual JSON when changing the syntax.
func TestAdaptGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/adapt/*.caddytest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, json, ok := strings.Cut(string(raw), "\n----------\n")
			if !ok {
				t.Fatal("missing the ---------- separator")
			}
			if !caddytest.CompareAdapt(t, file, caddyfile, "caddyfile", strings.TrimRight(json, "\n")) {
				t.Error("adapted JSON differs (diff printed above)")
			}
		})
	}
}
