// Package redisbackend stores a hub's events in a Redis Stream, so several
// Caddy nodes share one set of channels (cluster mode). It implements
// hub.Backend with go-redis's universal client: a single server, Sentinel
// or Redis Cluster.
//
// One stream per hub, key "<prefix>hub:<name>", one entry per event, whose
// Redis entry ID is the event ID. Fields: "channels" (comma-joined; channel
// names never hold a comma), "type", "data" and, when set, "retry".
// A batch is one MULTI/EXEC of XADDs (all or nothing, consecutive IDs),
// each trimming the stream with MAXLEN ~.
package redisbackend
