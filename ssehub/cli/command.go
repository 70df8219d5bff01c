package cli

import (
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/ssehub/sse_hub/client"
)

// Exit statuses a script can rely on.
const (
	exitOK = caddy.ExitCodeSuccess
	// exitFailed: bad usage, unreadable input, or no answer from the admin
	// endpoint (the same status "caddy reload" gives for these).
	exitFailed = caddy.ExitCodeFailedStartup
	// exitRefused: the admin endpoint answered with an error, so nothing
	// was published or closed.
	exitRefused = 2
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "sse-hub",
		Usage: "publish|channels|close [--address <interface>] [--config <path> [--adapter <name>]]",
		Short: "Publishes sse_hub events and lists or closes channels",
		Long: `
Talks to the sse_hub routes of the running Caddy's admin endpoint:

  caddy sse-hub publish <channel>[,<channel>...] [<data>]   publish one event
  caddy sse-hub publish --ndjson < events.ndjson            publish a batch
  caddy sse-hub channels                                    list channels
  caddy sse-hub close <channel>                             close a channel

Like "caddy stop", it finds the admin endpoint from the --address flag if
given; otherwise from the admin address of the --config file (adapted with
--adapter); otherwise it uses the default (localhost:2019, or the CADDY_ADMIN
environment variable).

Exit status: 0 on success; 1 for bad usage or input, or when the admin
endpoint cannot be reached; 2 when the admin endpoint refused the request
(nothing was published or closed). The reason is logged on stderr.
`,
		CobraFunc: func(cmd *cobra.Command) {
			pf := cmd.PersistentFlags()
			pf.StringP("config", "c", "", "Configuration file to read the admin address from")
			pf.StringP("adapter", "a", "", "Name of config adapter to apply to --config")
			pf.String("address", "", "Address of the administration endpoint, if different from config")
			cmd.Args = cobra.ArbitraryArgs
			cmd.RunE = run(func(cmd *cobra.Command, fl caddycmd.Flags) (int, error) {
				// Without this a mistyped subcommand would print help and
				// exit 0, which a script would take for success.
				if args := fl.Args(); len(args) > 0 {
					return exitFailed, fmt.Errorf("unknown command %q for %q: use publish, channels or close", args[0], cmd.CommandPath())
				}
				return exitOK, cmd.Help()
			})
			cmd.AddCommand(publishCommand(), channelsCommand(), closeCommand())
		},
	})
}

// run adapts a command to Caddy's CLI conventions: an error is logged by
// Caddy's logger and the status becomes the process's exit status.
func run(f func(*cobra.Command, caddycmd.Flags) (int, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
			return f(cmd, fl)
		})(cmd, args)
	}
}

// adminClient connects to the admin endpoint found the way Caddy's own
// commands find it.
func adminClient(fl caddycmd.Flags) (*client.Client, error) {
	addr, err := caddycmd.DetermineAdminAPIAddress(fl.String("address"), nil, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return nil, fmt.Errorf("couldn't determine admin API address: %v", err)
	}
	return client.New(addr)
}

// failure picks the exit status for an error from the client.
func failure(err error) (int, error) {
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		return exitRefused, err
	}
	return exitFailed, err
}
