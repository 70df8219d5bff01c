package redisbackend

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// TestPasswordAndUsername runs against a redis-server of its own that
// requires a password.
func TestPasswordAndUsername(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--requirepass", "s3cret", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	probe := redis.NewClient(&redis.Options{Addr: addr, Password: "s3cret", MaxRetries: -1})
	defer probe.Close()
	deadline := time.Now().Add(10 * time.Second)
	for probe.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server with a password did not answer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	draft := []hub.Draft{{Channels: []string{"a"}, Data: "x", Retry: hub.NoRetry}}
	for _, c := range []struct {
		name     string
		cfg      Config
		accepted bool
	}{
		{"password", Config{Addrs: []string{addr}, Password: "s3cret"}, true},
		{"user and password", Config{Addrs: []string{addr}, Username: "default", Password: "s3cret"}, true},
		{"wrong password", Config{Addrs: []string{addr}, Password: "wrong"}, false},
		{"no password", Config{Addrs: []string{addr}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := New(c.cfg, "auth")
			defer b.Close()
			_, err := b.Append(context.Background(), draft)
			if (err == nil) != c.accepted {
				t.Fatalf("Append: %v, want accepted=%v", err, c.accepted)
			}
		})
	}
}
