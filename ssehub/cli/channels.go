package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/ssehub/sse_hub/client"
)

func channelsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "channels [--hub <name>] [--json]",
		Short: "Lists channels with their subscriber and event counts",
		Long: `
Lists the channels of every hub (or of --hub) with their subscribers, the
events published to them, the events their history holds (of its size) and
the last event ID. With --json it prints the hubs as the admin API gives them
(GET /sse_hub/hubs), always as a list.
`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().String("hub", "", "Only this hub")
	cmd.Flags().Bool("json", false, "Print JSON instead of a table")
	cmd.RunE = run(runChannels)
	return cmd
}

func runChannels(cmd *cobra.Command, fl caddycmd.Flags) (int, error) {
	c, err := adminClient(fl)
	if err != nil {
		return exitFailed, err
	}
	ctx := cmd.Context()
	var hubs []client.HubInfo
	if name := fl.String("hub"); name != "" {
		hb, err := c.Hub(ctx, name)
		if err != nil {
			return failure(err)
		}
		hubs = []client.HubInfo{hb}
	} else if hubs, err = c.Hubs(ctx); err != nil {
		return failure(err)
	}
	out := cmd.OutOrStdout()
	if fl.Bool("json") {
		return exitOK, json.NewEncoder(out).Encode(hubs)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HUB\tCHANNEL\tKIND\tSUBSCRIBERS\tPUBLISHED\tHISTORY\tLAST_ID")
	for _, hb := range hubs {
		for _, ch := range hb.Channels {
			kind, last := "on-demand", ch.LastID
			if ch.Declared {
				kind = "declared"
			}
			if last == "" {
				last = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d/%d\t%s\n", hb.Name, ch.Name, kind, ch.Subscribers, ch.Published, ch.HistoryLength, ch.HistorySize, last)
		}
	}
	return exitOK, tw.Flush()
}
