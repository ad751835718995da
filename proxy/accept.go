package proxy

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/rs/zerolog"
)

// acceptBackoff paces an accept loop after failures. Every error but net.ErrClosed
// is taken as passing (out of file descriptors, a connection aborted before accept):
// a listener that gave up on one would stay deaf for good.
type acceptBackoff struct{ wait time.Duration }

// retry logs err and sleeps before the next Accept; false means stop: the
// listener is closed or ctx ended.
func (b *acceptBackoff) retry(ctx context.Context, log zerolog.Logger, err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	b.wait = min(max(2*b.wait, 5*time.Millisecond), time.Second)
	log.Warn().Err(err).Dur("retry_in", b.wait).Msg("accept failed")
	t := time.NewTimer(b.wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *acceptBackoff) reset() { b.wait = 0 }
