package cli

import (
	"fmt"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func closeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "close [--hub <name>] <channel>",
		Short: "Closes a channel and disconnects its subscribers",
		Long: `
Closes a channel: its subscribers get an sse_hub.closed event and are
disconnected. An on-demand channel is removed with its history; a declared
channel keeps its history. A channel that does not exist is an error (exit
status 2).
`,
		Args: cobra.ArbitraryArgs,
	}
	cmd.Flags().String("hub", "", `Hub name (default "default")`)
	cmd.RunE = run(runClose)
	return cmd
}

func runClose(cmd *cobra.Command, fl caddycmd.Flags) (int, error) {
	args := fl.Args()
	if len(args) != 1 {
		return exitFailed, fmt.Errorf("close takes one channel name: caddy sse-hub close [--hub <name>] <channel>; got %d arguments", len(args))
	}
	c, err := adminClient(fl)
	if err != nil {
		return exitFailed, err
	}
	if err := c.CloseChannel(cmd.Context(), fl.String("hub"), args[0]); err != nil {
		return failure(err)
	}
	return exitOK, nil
}
