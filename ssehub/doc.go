// Package ssehub holds sse_hub's Caddy modules: the http.handlers.sse_hub
// handler that streams channels to EventSource clients, and the
// admin.api.sse_hub routes that publish, list and close channels. Both are a
// thin layer over package hub; hubs live in a caddy.UsagePool so their
// channels, history and ID sequence survive config reloads.
package ssehub
