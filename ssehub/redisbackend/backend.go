package redisbackend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// Config says how to reach Redis and where the hub's stream lives.
type Config struct {
	// Addrs are host:port addresses: one server, several Cluster nodes,
	// or the Sentinels when MasterName is set.
	Addrs      []string
	Username   string
	Password   string
	DB         int
	TLS        bool
	MasterName string
	// Prefix starts every key; the hub's stream is "<prefix>hub:<name>".
	Prefix string
	// MaxLen is the approximate length the stream is trimmed to.
	MaxLen int64
}

// Timeouts: a publish or a range read that Redis does not answer in time
// fails (503) rather than hang; the follower's blocking read returns
// every readBlock so it notices a closed hub quickly.
const (
	dialTimeout = 2 * time.Second
	ioTimeout   = 3 * time.Second
	readBlock   = 500 * time.Millisecond
	readCount   = 1000
)

// Field names of a stream entry.
const (
	fieldChannels = "channels"
	fieldType     = "type"
	fieldData     = "data"
	fieldRetry    = "retry"
)

// Backend is a hub.Backend on one Redis Stream.
type Backend struct {
	commands *renewingClient // publishes and range reads
	// reader serves the follower's blocking reads, so they never hold a
	// connection publishes wait for.
	reader *renewingClient
	key    string
	maxLen int64
}

// errClosed answers a call on a closed backend.
var errClosed = errors.New("redis backend closed")

// New returns the backend of the named hub. It does not connect: the
// first command does, so a node starts even while Redis is down.
func New(cfg Config, hubName string) *Backend {
	opts := &redis.UniversalOptions{
		Addrs:        cfg.Addrs,
		Username:     cfg.Username,
		Password:     cfg.Password,
		DB:           cfg.DB,
		MasterName:   cfg.MasterName,
		DialTimeout:  dialTimeout,
		ReadTimeout:  ioTimeout,
		WriteTimeout: ioTimeout,
		// No automatic retries: a retried MULTI/EXEC whose answer was lost
		// would store the batch twice. The follower retries reads itself.
		MaxRetries: -1,
		// One dial attempt per command: while Redis is down a publish is
		// refused at once instead of after several dial backoffs.
		DialerRetries: 1,
	}
	if cfg.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if len(cfg.Addrs) > 0 {
			if host, _, err := net.SplitHostPort(cfg.Addrs[0]); err == nil {
				opts.TLSConfig.ServerName = host
			}
		}
	}
	return &Backend{
		commands: newRenewingClient(opts),
		reader:   newRenewingClient(opts),
		key:      cfg.Prefix + "hub:" + hubName,
		maxLen:   cfg.MaxLen,
	}
}

// Key is the hub's stream key.
func (b *Backend) Key() string { return b.key }

// Append stores the drafts with one MULTI/EXEC of XADDs.
func (b *Backend) Append(ctx context.Context, drafts []hub.Draft) ([]hub.ID, error) {
	c := b.commands.get()
	if c == nil {
		return nil, errClosed
	}
	pipe := c.TxPipeline()
	cmds := b.queueAppend(ctx, pipe, drafts)
	if _, err := pipe.Exec(ctx); err != nil {
		b.commands.failed(c, err)
		return nil, fmt.Errorf("redis XADD to %s: %w", b.key, err)
	}
	return appendedIDs(cmds)
}

// AppendAndRead is Append with an XRANGE after the XADDs in the same
// MULTI/EXEC: one round trip on the connection that stored the events.
func (b *Backend) AppendAndRead(ctx context.Context, drafts []hub.Draft, after hub.ID) ([]hub.ID, []hub.StoredEvent, error) {
	c := b.commands.get()
	if c == nil {
		return nil, nil, errClosed
	}
	pipe := c.TxPipeline()
	cmds := b.queueAppend(ctx, pipe, drafts)
	rng := pipe.XRangeN(ctx, b.key, "("+after.String(), "+", readCount)
	if _, err := pipe.Exec(ctx); err != nil {
		b.commands.failed(c, err)
		return nil, nil, fmt.Errorf("redis XADD to %s: %w", b.key, err)
	}
	ids, err := appendedIDs(cmds)
	if err != nil {
		return nil, nil, err
	}
	return ids, decode(rng.Val()), nil
}

func (b *Backend) queueAppend(ctx context.Context, pipe redis.Pipeliner, drafts []hub.Draft) []*redis.StringCmd {
	cmds := make([]*redis.StringCmd, len(drafts))
	for i, d := range drafts {
		values := []string{fieldChannels, strings.Join(d.Channels, ","), fieldType, d.Type, fieldData, d.Data}
		if d.Retry != hub.NoRetry {
			values = append(values, fieldRetry, strconv.FormatInt(d.Retry, 10))
		}
		cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: b.key, MaxLen: b.maxLen, Approx: b.maxLen > 0, Values: values})
	}
	return cmds
}

func appendedIDs(cmds []*redis.StringCmd) ([]hub.ID, error) {
	ids := make([]hub.ID, len(cmds))
	for i, cmd := range cmds {
		id, err := hub.ParseID(cmd.Val())
		if err != nil {
			return nil, fmt.Errorf("redis answered XADD with ID %q: %w", cmd.Val(), err)
		}
		ids[i] = id
	}
	return ids, nil
}

// Read waits up to readBlock for entries after the given ID (XREAD BLOCK).
func (b *Backend) Read(ctx context.Context, after hub.ID) ([]hub.StoredEvent, error) {
	c := b.reader.get()
	if c == nil {
		return nil, errClosed
	}
	res, err := c.XRead(ctx, &redis.XReadArgs{
		Streams: []string{b.key, after.String()},
		Count:   readCount,
		Block:   readBlock,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		b.reader.failed(c, err)
		return nil, fmt.Errorf("redis XREAD from %s: %w", b.key, err)
	}
	var out []hub.StoredEvent
	for _, stream := range res {
		out = append(out, decode(stream.Messages)...)
	}
	return out, nil
}

// Latest reads the newest entries after the given ID (XREVRANGE with an
// exclusive end and a COUNT, so Redis never returns more than count) and
// the stream's state (XINFO STREAM) in one MULTI/EXEC.
func (b *Backend) Latest(ctx context.Context, after, notBefore hub.ID, count int) (hub.RangePage, error) {
	start := "(" + after.String()
	if !notBefore.IsZero() && after.Less(notBefore) {
		start = notBefore.String()
	}
	c := b.commands.get()
	if c == nil {
		return hub.RangePage{}, errClosed
	}
	pipe := c.TxPipeline()
	var rng *redis.XMessageSliceCmd
	if count > 0 {
		rng = pipe.XRevRangeN(ctx, b.key, "+", start, int64(count))
	}
	info := pipe.XInfoStream(ctx, b.key)
	_, err := pipe.Exec(ctx)
	if err != nil && (rng == nil || rng.Err() == nil) && info.Err() != nil && strings.Contains(info.Err().Error(), "no such key") {
		return hub.RangePage{}, nil // no event stored yet
	}
	if err != nil {
		b.commands.failed(c, err)
		return hub.RangePage{}, fmt.Errorf("redis XREVRANGE on %s: %w", b.key, err)
	}
	st := info.Val()
	var page hub.RangePage
	if rng != nil {
		msgs := rng.Val()
		slices.Reverse(msgs)
		page.Events = decode(msgs)
	}
	page.Last, _ = hub.ParseID(st.LastGeneratedID)
	if st.Length > 0 {
		page.First, _ = hub.ParseID(st.FirstEntry.ID)
	}
	// EntriesAdded is reported since Redis 7; before, assume trimming.
	page.Trimmed = st.EntriesAdded == 0 && st.Length > 0 || st.EntriesAdded > st.Length
	return page, nil
}

// HoldsBetween asks Redis for one entry strictly between the two IDs.
func (b *Backend) HoldsBetween(ctx context.Context, after, before hub.ID) (bool, error) {
	if !after.Less(before) {
		return false, nil
	}
	c := b.commands.get()
	if c == nil {
		return false, errClosed
	}
	msgs, err := c.XRevRangeN(ctx, b.key, "("+before.String(), "("+after.String(), 1).Result()
	if err != nil {
		b.commands.failed(c, err)
		return false, fmt.Errorf("redis XREVRANGE on %s: %w", b.key, err)
	}
	return len(msgs) > 0, nil
}

// Close closes the clients; calls in flight fail, a blocking read at once.
func (b *Backend) Close() error {
	_ = b.reader.close()
	return b.commands.close()
}

// Delete removes the hub's stream (used by tests and operators).
func (b *Backend) Delete(ctx context.Context) error {
	c := b.commands.get()
	if c == nil {
		return errClosed
	}
	return c.Del(ctx, b.key).Err()
}

// decode turns stream entries into events. An entry that is not a hub
// event (foreign fields, bad ID) comes back with no channels, which the
// hub skips, so the follower still moves past it.
func decode(msgs []redis.XMessage) []hub.StoredEvent {
	out := make([]hub.StoredEvent, 0, len(msgs))
	for _, m := range msgs {
		id, err := hub.ParseID(m.ID)
		if err != nil {
			continue
		}
		d := hub.Draft{Retry: hub.NoRetry}
		if s, ok := m.Values[fieldChannels].(string); ok && s != "" {
			d.Channels = strings.Split(s, ",")
		}
		d.Type, _ = m.Values[fieldType].(string)
		d.Data, _ = m.Values[fieldData].(string)
		if s, ok := m.Values[fieldRetry].(string); ok {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
				d.Retry = n
			}
		}
		out = append(out, hub.StoredEvent{ID: id, Draft: d})
	}
	return out
}

// Interface guards
var _ hub.Backend = (*Backend)(nil)
