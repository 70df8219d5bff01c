// Package client publishes events to sse_hub through Caddy's admin endpoint,
// and lists and closes channels. It uses only the standard library, so an
// application can import it without pulling in Caddy.
//
//	c, err := client.New("localhost:2019")
//	res, err := c.Publish(ctx, client.Event{Channels: []string{"news"}, Data: "hello"})
//
// Every request carries an Origin header naming the admin address itself,
// as Caddy's own CLI does, so it passes the admin endpoint's origin check
// even when enforce_origin is on. All validation happens in the hub; a
// refused request comes back as an *Error with the admin API's message.
package client
