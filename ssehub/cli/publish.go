package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/ssehub/sse_hub/client"
)

func publishCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "publish [--hub <name>] [--event <type>] [--retry <duration>] <channel>[,<channel>...] [<data> | --file <path>]",
		Short: "Publishes an event, or an NDJSON batch with --ndjson",
		Long: `
Publishes one event to one or more channels (comma-separated) and prints its
event ID. The data is the second argument; or the contents of --file; or, if
neither is given, standard input. One trailing newline of a file or of
standard input is dropped, as shell command substitution does, so
"echo hi | caddy sse-hub publish news" publishes "hi".

With --ndjson, standard input (or --file) holds a batch instead: one JSON
event object per line, as POST /sse_hub/publish takes them
({"channel":"news","event":"update","data":{"x":1}}). The batch is
published atomically and one event ID per line is printed.
`,
		Example: `  $ caddy sse-hub publish news 'hello world'
  $ caddy sse-hub publish --event update news,chat '{"headline":"hi"}'
  $ date | caddy sse-hub publish news
  $ caddy sse-hub publish --ndjson < events.ndjson`,
		Args: cobra.ArbitraryArgs,
	}
	f := cmd.Flags()
	f.String("hub", "", `Hub name (default "default")`)
	f.String("event", "", `Event type (default "message")`)
	f.String("retry", "", "Reconnection delay to send to clients, e.g. 3s")
	f.String("file", "", `Read the data (or, with --ndjson, the batch) from this file; "-" is standard input`)
	f.Bool("ndjson", false, "Publish a batch of NDJSON event objects read from standard input or --file")
	cmd.RunE = run(runPublish)
	return cmd
}

func runPublish(cmd *cobra.Command, fl caddycmd.Flags) (int, error) {
	if fl.Bool("ndjson") {
		return runPublishNDJSON(cmd, fl)
	}
	args := fl.Args()
	if len(args) == 0 || len(args) > 2 {
		return exitFailed, fmt.Errorf("publish takes a channel list and optionally the data: caddy sse-hub publish <channel>[,<channel>...] [<data>]; got %d arguments", len(args))
	}
	ev := client.Event{
		Hub:      fl.String("hub"),
		Channels: strings.Split(args[0], ","),
		Type:     fl.String("event"),
	}
	if v := fl.String("retry"); v != "" {
		d, err := caddy.ParseDuration(v)
		if err != nil || d < 0 {
			return exitFailed, fmt.Errorf("--retry %q: want a non-negative duration such as 3s or 500ms", v)
		}
		ev.Retry = d
	}
	switch {
	case len(args) == 2 && fl.String("file") != "":
		return exitFailed, errors.New("give the data as an argument or with --file, not both")
	case len(args) == 2:
		ev.Data = args[1]
	default:
		raw, err := readInput(cmd, fl.String("file"))
		if err != nil {
			return exitFailed, err
		}
		ev.Data = dropFinalNewline(string(raw))
	}
	c, err := adminClient(fl)
	if err != nil {
		return exitFailed, err
	}
	res, err := c.Publish(cmd.Context(), ev)
	if err != nil {
		return failure(err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), res.ID)
	return exitOK, nil
}

func runPublishNDJSON(cmd *cobra.Command, fl caddycmd.Flags) (int, error) {
	if len(fl.Args()) > 0 {
		return exitFailed, errors.New("--ndjson takes no arguments: each line names its own channels")
	}
	for _, name := range []string{"hub", "event", "retry"} {
		if fl.Changed(name) {
			return exitFailed, fmt.Errorf("--%s does not apply with --ndjson: set %q in each line", name, name)
		}
	}
	raw, err := openInput(cmd, fl.String("file"))
	if err != nil {
		return exitFailed, err
	}
	defer raw.Close()
	c, err := adminClient(fl)
	if err != nil {
		return exitFailed, err
	}
	results, err := c.PublishNDJSON(cmd.Context(), raw)
	if err != nil {
		return failure(err)
	}
	for _, res := range results {
		fmt.Fprintln(cmd.OutOrStdout(), res.ID)
	}
	return exitOK, nil
}

// openInput opens --file, or standard input when it is empty or "-".
func openInput(cmd *cobra.Command, file string) (io.ReadCloser, error) {
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("reading the data: %v", err)
		}
		return f, nil
	}
	in := cmd.InOrStdin()
	// Waiting on a terminal would look like a hang.
	if f, ok := in.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return nil, errors.New("no data: give it as an argument, with --file, or on standard input")
		}
	}
	return io.NopCloser(in), nil
}

func readInput(cmd *cobra.Command, file string) ([]byte, error) {
	r, err := openInput(cmd, file)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading the data: %v", err)
	}
	return raw, nil
}

func dropFinalNewline(s string) string {
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		return strings.TrimSuffix(t, "\r")
	}
	return s
}
