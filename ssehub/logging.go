package ssehub

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// connectionIDs numbers streams within the process, for log lines.
var connectionIDs atomic.Uint64

// connectionFields identify a stream in its log lines: an ID of its own,
// Caddy's request ID (the {http.request.uuid} placeholder, the same one
// access logs and headers can carry), and the trace ID when the tracing
// handler set one.
func connectionFields(r *http.Request, repl *caddy.Replacer) []zap.Field {
	fields := []zap.Field{zap.String("conn", "c"+strconv.FormatUint(connectionIDs.Add(1), 36))}
	if id, ok := repl.GetString("http.request.uuid"); ok && id != "" {
		fields = append(fields, zap.String("request_id", id))
	}
	if trace, ok := caddyhttp.GetVar(r.Context(), "trace_id").(string); ok && trace != "" {
		fields = append(fields, zap.String("trace_id", trace))
	}
	return fields
}

// warnEvery is the most often one kind of limit refusal is logged.
const warnEvery = time.Second

// rateLimitedWarnings logs a warning per reason at most once per
// warnEvery, with the number suppressed since, so a flood of refused
// clients does not flood the log.
type rateLimitedWarnings struct {
	mu      sync.Mutex
	reasons map[string]*warnState // keys come from a small fixed set
}

type warnState struct {
	last       time.Time
	suppressed int
}

func (rl *rateLimitedWarnings) warn(log *zap.Logger, reason, msg string, fields ...zap.Field) {
	rl.mu.Lock()
	if rl.reasons == nil {
		rl.reasons = make(map[string]*warnState)
	}
	st := rl.reasons[reason]
	if st == nil {
		st = new(warnState)
		rl.reasons[reason] = st
	}
	now := time.Now()
	if now.Sub(st.last) < warnEvery {
		st.suppressed++
		rl.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	rl.mu.Unlock()
	log.Warn(msg, append(fields, zap.String("reason", reason), zap.Int("suppressed_since_last", suppressed))...)
}
