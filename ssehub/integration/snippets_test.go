package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// publishSite serves the default hub with the channels the README's
// snippets publish to.
var publishSite = `
http://` + siteAddr + ` {
	sse_hub /events* {
		channel news
		channel chat
		on_demand room-*
	}
}`

// snippetMarker finds the README's tested snippets: an HTML comment naming
// the snippet, then one fenced code block.
var snippetMarker = regexp.MustCompile("(?s)<!-- snippet: ([a-z0-9-]+) -->\n```[a-z]*\n(.*?)\n```\n")

// readmeSnippets returns the README's snippets by name.
func readmeSnippets(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	snippets := map[string]string{}
	for _, m := range snippetMarker.FindAllStringSubmatch(string(raw), -1) {
		if _, dup := snippets[m[1]]; dup {
			t.Fatalf("README has two snippets named %q", m[1])
		}
		snippets[m[1]] = m[2] + "\n"
	}
	if n := strings.Count(string(raw), "<!-- snippet:"); n != len(snippets) {
		t.Fatalf("README has %d snippet markers but %d parse as a marker followed by a code block", n, len(snippets))
	}
	return snippets
}

// moduleRoot is where "go run" resolves the Go snippet's imports.
var moduleRoot, _ = filepath.Abs(filepath.Join("..", ".."))

// TestREADMESnippetsDeliverEvents runs every snippet of the README's
// "Publishing from your app" section, exactly as written there, against the
// test Caddy (CADDY_ADMIN names its admin endpoint) and checks that a
// subscriber receives exactly the events it publishes.
func TestREADMESnippetsDeliverEvents(t *testing.T) {
	loadCaddyfile(t, publishSite)
	snippets := readmeSnippets(t)
	type event struct{ typ, data string }
	tests := []struct {
		name string // the README marker
		file string // the snippet is saved under this name
		tool string
		args []string // then the file's path
		dir  string   // where it runs; empty for a scratch directory
		env  []string
		want []event
	}{
		{name: "curl", file: "publish.sh", tool: "bash", args: []string{"-e", "-o", "pipefail"},
			want: []event{{"message", "hello from curl"}, {"update", `{"headline":"hello from curl"}`}}},
		{name: "node-fetch", file: "publish.mjs", tool: "node",
			want: []event{{"update", `{"headline":"hello from fetch"}`}}},
		{name: "node-http", file: "publish-http.mjs", tool: "node",
			want: []event{{"message", "hello from node:http"}}},
		{name: "python", file: "publish.py", tool: "python3",
			want: []event{{"message", "hello from python"}}},
		{name: "php", file: "publish.php", tool: "php",
			want: []event{{"message", "hello from php"}}},
		{name: "go", file: "publish.go", tool: "go", args: []string{"run"}, dir: moduleRoot,
			want: []event{{"message", "hello from go"}, {"update", `{"headline":"batch from go"}`}, {"message", "second of the batch"}}},
		{name: "cli", file: "publish.sh", tool: "bash", args: []string{"-e", "-o", "pipefail"},
			want: []event{
				{"message", "hello from the CLI"},
				{"update", `{"headline":"hello from the CLI"}`},
				{"message", "hello from stdin"},
				{"message", "one"},
				{"typing", `{"user":"ann"}`},
				{"sse_hub.closed", `{"channel":"room-42"}`},
			}},
	}
	var names []string
	for _, tt := range tests {
		names = append(names, tt.name)
	}
	for name := range snippets {
		if !slices.Contains(names, name) {
			t.Errorf("README snippet %q has no test here", name)
		}
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ok := snippets[tt.name]
			if !ok {
				t.Fatalf("README has no snippet %q", tt.name)
			}
			requireTool(t, tt.tool)
			env := toolEnv()
			if tt.name == "cli" {
				env = toolEnv("PATH=" + filepath.Dir(caddyBinary(t)) + string(os.PathListSeparator) + os.Getenv("PATH"))
			}
			scratch := t.TempDir()
			file := filepath.Join(scratch, tt.file)
			if err := os.WriteFile(file, []byte(code), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := tt.dir
			if dir == "" {
				dir = scratch
			}

			s := subscribe(t, "/events?channel=news&channel=chat&channel=room-42", nil)
			waitSubscribers(t, "default", "room-42", 1)
			res := runTool(t, dir, env, "", tt.tool, append(tt.args, file)...)
			if res.code != 0 {
				t.Fatalf("snippet failed: %s", res)
			}
			for i, ev := range s.nextN(t, len(tt.want)) {
				if got := (event{ev.Type, ev.Data}); got != tt.want[i] {
					t.Errorf("event %d = %+v, want %+v (output: %s)", i, got, tt.want[i], res)
				}
			}
		})
	}
}

// TestNodeFetchNeedsOrigin pins the reason the Node snippet sends Origin:
// without it Caddy's admin endpoint refuses fetch. If this starts passing
// through, the README's explanation is out of date.
func TestNodeFetchNeedsOrigin(t *testing.T) {
	requireTool(t, "node")
	loadCaddyfile(t, publishSite)
	before, _ := getChannel(t, "default", "news")
	script := `const admin = process.env.CADDY_ADMIN;
const res = await fetch("http://" + admin + "/sse_hub/publish", {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ channel: "news", data: "no origin" }),
});
console.log(res.status, await res.text());
`
	res := runTool(t, t.TempDir(), toolEnv(), script, "node", "--input-type=module")
	want := `403 {"error":"client is not allowed to access from origin ''"}`
	if res.code != 0 || strings.TrimSpace(res.stdout) != want {
		t.Errorf("fetch without Origin: %s\nwant stdout %s", res, want)
	}
	if after, _ := getChannel(t, "default", "news"); after.Published != before.Published {
		t.Errorf("a refused fetch published %d events", after.Published-before.Published)
	}
}
