package ssehub

import (
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// Every goroutine the module starts (lean workers, poller and ticker, the
// Redis follower, the exit watcher) recovers a panic, ends only what it
// was serving, and reports it here: Caddy keeps running.
func init() {
	hub.SetPanicHook(reportPanic)
}

// reportPanic logs a recovered panic at error with its stack and counts
// it in caddy_sse_hub_panics_total{where}; where comes from a fixed set.
func reportPanic(p hub.Panic) {
	countPanic(p.Where)
	caddy.Log().Named("http.handlers.sse_hub").Error("recovered from a panic: the goroutine ended only what it was serving and goes on; please report this bug",
		zap.String("where", p.Where), zap.Any("panic", p.Value), zap.ByteString("stack", p.Stack))
}
