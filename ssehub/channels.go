package ssehub

import (
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// channelsOf resolves the channels a subscribe request names: every value
// of the channel query parameter, plus each ChannelFrom template; with no
// template configured and nothing in the query, the last path segment.
func (h *Handler) channelsOf(r *http.Request, repl *caddy.Replacer) ([]string, error) {
	var names []string
	for _, v := range r.URL.Query()[h.ChannelQuery] {
		names = appendNames(names, v)
	}
	for _, tmpl := range h.ChannelFrom {
		names = appendNames(names, repl.ReplaceAll(tmpl, ""))
	}
	if len(names) == 0 && len(h.ChannelFrom) == 0 {
		if seg := path.Base(r.URL.Path); seg != "/" && seg != "." && !strings.HasSuffix(r.URL.Path, "/") {
			names = append(names, seg)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no channel named: subscribe to /<path>/<channel> or ?%s=<channel> (repeatable); a channel name is %s", h.ChannelQuery, hub.ChannelNameRule)
	}
	return names, nil
}

// appendNames splits a comma-separated list, skipping empty items.
func appendNames(names []string, list string) []string {
	for name := range strings.SplitSeq(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	return names
}
