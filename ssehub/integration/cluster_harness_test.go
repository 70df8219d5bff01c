package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The shared Redis server of the cluster tests (.ci/run starts it).
const sharedRedis = "127.0.0.1:6379"

// clusterPrefix returns a Redis key prefix for one test and deletes its
// keys at the end, so tests neither see nor leave each other's streams.
func clusterPrefix(t *testing.T, redisAddr string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "ssehub-it-" + hex.EncodeToString(b) + ":"
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if keys, err := client.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return prefix
}

// clusterSite is the site block both nodes serve: one hub in Redis.
func clusterSite(site, hubName, redisAddr, prefix, extra string) string {
	return fmt.Sprintf(`
http://%s {
	sse_hub /events/* {
		hub %s
		channel news
		channel chat
		on_demand room-*
		%s
		redis %s {
			prefix %s
		}
	}
}`, site, hubName, extra, redisAddr, prefix)
}

// remoteNode is a second Caddy, a separate process built from ../../example.
type remoteNode struct {
	adminURL, siteURL, site string
	cmd                     *exec.Cmd
	exited                  chan struct{}
	stderr                  *bytes.Buffer
}

// startRemoteNode runs a second Caddy on shiftedAddrs(3) serving the site
// that siteBlock returns for its site address, and stops it at the end.
func startRemoteNode(t *testing.T, siteBlock func(site string) string) *remoteNode {
	t.Helper()
	bin := caddyBinary(t)
	admin, site := shiftedAddrs(3)
	dir := t.TempDir()
	config := fmt.Sprintf("{\n\tadmin %s\n\tpersist_config off\n\tauto_https off\n}\n%s\n", admin, siteBlock(site))
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &remoteNode{adminURL: "http://" + admin, siteURL: "http://" + site, site: site, exited: make(chan struct{}), stderr: new(bytes.Buffer)}
	n.cmd = exec.Command(bin, "run", "--config", caddyfile)
	n.cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	n.cmd.Stderr = &lockedWriter{w: n.stderr}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.exited
		if t.Failed() {
			t.Logf("node B log:\n%s", n.log())
		}
	})
	waitFor(t, "node B to serve its admin API", 60*time.Second, func() bool {
		select {
		case <-n.exited:
			t.Fatalf("node B exited:\n%s", n.log())
		default:
		}
		resp, err := http.Get(n.adminURL + "/sse_hub/hubs")
		if err != nil {
			return false
		}
		resp.Body.Close()
		// Caddy answers on its admin API before its sites listen.
		conn, err := net.Dial("tcp", n.site)
		if err != nil {
			return false
		}
		conn.Close()
		return resp.StatusCode == http.StatusOK
	})
	return n
}

func (n *remoteNode) log() string {
	stderrMu.Lock()
	defer stderrMu.Unlock()
	return n.stderr.String()
}

var stderrMu sync.Mutex

type lockedWriter struct{ w *bytes.Buffer }

func (l *lockedWriter) Write(p []byte) (int, error) {
	stderrMu.Lock()
	defer stderrMu.Unlock()
	return l.w.Write(p)
}

// subscribe opens a stream on node B.
func (n *remoteNode) subscribe(t *testing.T, path string, header http.Header) *stream {
	t.Helper()
	s, status, body := trySubscribeAt(t, n.siteURL, path, header)
	if status != http.StatusOK {
		t.Fatalf("node B GET %s: %d %s", path, status, body)
	}
	return s
}

// publish publishes one JSON event on node B.
func (n *remoteNode) publish(t *testing.T, event string) published {
	t.Helper()
	status, body := adminRequestAt(t, n.adminURL, http.MethodPost, "/sse_hub/publish", "application/json", event)
	if status != http.StatusOK {
		t.Fatalf("node B publish %s: %d %s", event, status, body)
	}
	var p published
	mustUnmarshal(t, body, &p)
	return p
}

// waitSubscribersAt waits until a channel on the admin API at base has n
// subscribers.
func waitSubscribersAt(t *testing.T, base, hubName, channel string, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d subscribers on %s %s/%s", n, base, hubName, channel), 10*time.Second, func() bool {
		status, body := adminRequestAt(t, base, http.MethodGet, "/sse_hub/hubs/"+hubName+"/channels/"+channel, "", "")
		var info channelInfo
		if status == http.StatusOK {
			mustUnmarshal(t, body, &info)
		}
		return info.Subscribers == n
	})
}

// ownRedis is a redis-server the test starts, kills and restarts, on a
// port derived from the harness base (admin port + 50).
type ownRedis struct {
	addr string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed: %v", err)
	}
	_, p, _ := net.SplitHostPort(adminAddr)
	port, _ := strconv.Atoi(p)
	r := &ownRedis{port: port + 50, addr: fmt.Sprintf("127.0.0.1:%d", port+50)}
	r.start(t)
	t.Cleanup(r.kill)
	return r
}

func (r *ownRedis) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	client := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer client.Close()
	waitFor(t, "redis-server on "+r.addr+" to answer", 10*time.Second, func() bool {
		return client.Ping(context.Background()).Err() == nil
	})
}

// kill ends the server at once (SIGKILL), as a crash would.
func (r *ownRedis) kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}
