//go:build !linux

package lean

import "errors"

// poller is only implemented on Linux; elsewhere closed peers are noticed
// by a failing write (at the latest, the next heartbeat) and full sockets
// are retried every tick.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("no poller on this platform") }

func (*poller) add(*Conn) bool           { return false }
func (*poller) remove(*Conn)             {}
func (*poller) run(stop <-chan struct{}) {}
