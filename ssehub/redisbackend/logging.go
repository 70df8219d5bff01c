package redisbackend

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// go-redis logs connection failures to stderr on its own, once per failed
// dial, which floods Caddy's output while Redis is down. The hub reports
// the backend going down and up instead (a log line per change and the
// backend_up metric), so the driver's own lines are dropped.
func init() {
	redis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}
