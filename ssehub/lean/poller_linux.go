package lean

import (
	"sync"
	"syscall"
)

const (
	epollET     = 1 << 31
	epollEvents = syscall.EPOLLOUT | syscall.EPOLLRDHUP | epollET
	gone        = syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR
)

// poller watches every lean socket with one epoll set of its own, beside
// Go's netpoller: it reports a peer's FIN at once (no goroutine per
// connection reads) and a full socket turning writable again.
// Edge-triggered, so each change is reported once.
type poller struct {
	epfd int
	mu   sync.Mutex
	byID map[uint64]*Conn // events carry the ID, never the fd, which is reused
}

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &poller{epfd: epfd, byID: make(map[uint64]*Conn)}, nil
}

// add watches c's socket; it reports false if it could not, and then the
// ticker retries c's pending writes instead.
func (p *poller) add(c *Conn) bool {
	p.mu.Lock()
	p.byID[c.id] = c
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: epollEvents, Fd: int32(uint32(c.id)), Pad: int32(uint32(c.id >> 32))}
	var err error
	if cerr := c.raw.Control(func(fd uintptr) {
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	}); cerr != nil || err != nil {
		p.mu.Lock()
		delete(p.byID, c.id)
		p.mu.Unlock()
		return false
	}
	return true
}

// remove is called before the socket is closed.
func (p *poller) remove(c *Conn) {
	_ = c.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	p.mu.Lock()
	delete(p.byID, c.id)
	p.mu.Unlock()
}

// run waits for events until stop is closed (noticed within the wait's
// timeout), then closes the epoll set.
func (p *poller) run(stop <-chan struct{}) {
	defer syscall.Close(p.epfd)
	events := make([]syscall.EpollEvent, 256)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, err := syscall.EpollWait(p.epfd, events, 200)
		if err != nil {
			continue // EINTR
		}
		// A panic loses the rest of this batch of events (edge-triggered,
		// so they are not reported again); the ticker's heartbeats and
		// timeouts still end those connections in time.
		recovering(PanicPoller, func() { p.dispatch(events[:n]) })
	}
}

// dispatch hands epoll events to their connections' workers.
func (p *poller) dispatch(events []syscall.EpollEvent) {
	for _, ev := range events {
		id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
		p.mu.Lock()
		c := p.byID[id]
		p.mu.Unlock()
		switch {
		case c == nil:
		case ev.Events&gone != 0:
			c.request(flagPeerGone)
		default:
			c.Notify() // writable: the worker writes what is pending
		}
	}
}
