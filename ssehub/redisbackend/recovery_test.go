package redisbackend

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// ownServer is a redis-server of the test's own, to kill and restart.
type ownServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startOwnServer(t *testing.T) *ownServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &ownServer{t: t, port: port, dir: t.TempDir()}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *ownServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *ownServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatal("own redis-server does not answer")
		}
		time.Sleep(5 * time.Millisecond) // a poll step under the deadline above
	}
}

func (s *ownServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// TestFirstPublishAfterRedisReturnsIsPrompt kills Redis under a node that
// keeps publishing, leaves it down until the follower's backoff reached
// its cap, restarts it, and times the first publish that gets through and
// the delivery of its event to a subscriber of the same node.
func TestFirstPublishAfterRedisReturnsIsPrompt(t *testing.T) {
	srv := startOwnServer(t)
	h, err := hub.New("test", hub.Config{
		Channels:         map[string]hub.ChannelSettings{"news": {HistorySize: 100}},
		SubscriberBuffer: 10_000,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.SetBackend(New(Config{Addrs: []string{srv.addr()}, Prefix: "recovery:"}, "test"), nil)
	sub, err := h.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	publish := func() (hub.ID, time.Duration, error) {
		start := time.Now()
		res, err := h.Publish(hub.Draft{Channels: []string{"news"}, Data: "x", Retry: hub.NoRetry})
		if err != nil {
			return hub.ID{}, time.Since(start), err
		}
		return res[0].ID, time.Since(start), nil
	}
	if _, _, err := publish(); err != nil {
		t.Fatal(err)
	}
	srv.kill()
	// Down long enough for the follower's backoff to reach its 2 s cap,
	// publishing all along as clients would.
	downUntil := time.Now().Add(3 * time.Second)
	for time.Now().Before(downUntil) {
		if _, _, err := publish(); !errors.Is(err, hub.ErrUnavailable) {
			t.Fatalf("publish with Redis down: %v, want ErrUnavailable", err)
		}
		time.Sleep(10 * time.Millisecond) // pacing the publisher, not waiting for a condition
	}
	srv.start()
	var id hub.ID
	var took time.Duration
	deadline := time.Now().Add(10 * time.Second)
	for {
		if id, took, err = publish(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no publish got through within 10s of the restart: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // a retry step under the deadline above
	}
	acked := time.Now()
	// The subscriber has it: drain until that ID.
	for seen := false; !seen; {
		out, _, err := sub.Next(nil, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		seen = len(out) > 0 && containsID(string(out), id)
		if seen {
			break
		}
		select {
		case <-sub.Wake():
		case <-time.After(5 * time.Second):
			t.Fatalf("event %v not delivered within 5s of its acknowledgment", id)
		}
	}
	delivered := time.Since(acked)
	if delivered > time.Second {
		t.Errorf("the event reached the node's own subscriber %v after the answer", delivered)
	}
	t.Logf("first publish after the restart answered in %v; delivered to a subscriber of the node %v after the answer", took, delivered)
	if took > time.Second {
		t.Errorf("first publish after Redis returned took %v, want well under a second", took)
	}
}

func containsID(frames string, id hub.ID) bool {
	return strings.Contains(frames, "id: "+id.String()+"\n")
}
