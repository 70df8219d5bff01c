package caddyfile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// TestAdaptGolden pins the Caddyfile syntax: each testdata/adapt/*.caddytest
// holds a Caddyfile, a line of dashes, and the JSON it must adapt to. With
// UPDATE_GOLDEN=1 it rewrites each file's JSON with what the Caddyfile
// adapts to now (review the diff before committing it).
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
			if os.Getenv("UPDATE_GOLDEN") == "1" {
				updateGolden(t, file, caddyfile)
				return
			}
			if !caddytest.CompareAdapt(t, file, caddyfile, "caddyfile", strings.TrimRight(json, "\n")) {
				t.Error("adapted JSON differs (diff printed above)")
			}
		})
	}
}

// updateGolden writes file anew: its Caddyfile and the JSON it adapts to,
// indented as CompareAdapt compares it.
func updateGolden(t *testing.T, file, caddyfile string) {
	t.Helper()
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, adapted, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(caddyfile+"\n----------\n"+pretty.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
