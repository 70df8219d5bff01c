package lifecycle

import "github.com/ssehub/sse_hub/ssehub/hub"

// WriteChunk is how many bytes of events one write carries at most, so a
// long replay goes out in steady pieces instead of one huge buffer.
const WriteChunk = 32 << 10

// BufferSize is the capacity of a write buffer: a chunk, and room for the
// event that takes it over.
const BufferSize = WriteChunk + 4096

// KeepBuffer reports whether a write buffer may be kept for the next
// write: one grown by a huge event is dropped, so an idle stream or
// worker never holds on to it.
func KeepBuffer(buf []byte) bool { return cap(buf) <= 4*WriteChunk }

// LastFrame is what a stream that ends for reason writes last (after
// whatever it had already taken from the hub), or nil when nothing more
// can or should be written. retry is the stream's "retry:" hint.
func LastFrame(reason EndReason, sub *hub.Subscriber, retry []byte) []byte {
	switch reason {
	case ClosedByHub:
		return sub.EndFrame()
	case ReloadDrain, MaxLifetime:
		return retry
	}
	return nil
}
