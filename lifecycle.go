package httproute

import (
	"context"
	"errors"
	"io"
	"sync"
	"unsafe"
)

// Lifecycle.
//
// A Router owns what it builds: the Upstreams of XBackends, the filters
// and backends extensions build for it, and the mirror copies in flight.
// When Update no longer uses something it built (a route or object was
// removed or changed), the Router releases it once the new table serves:
// Upstreams close their idle connections, and an extension's Filter or
// Backend that implements io.Closer is closed. Extension constructors
// are called again only when their object changes (reuse.go), so state a
// Filter keeps, such as a rate limiter's buckets, lives as long as its
// object is unchanged.
//
// Close ends it all: requests that reach the Router afterwards get 503,
// mirror copies in flight are canceled and waited for, idle connections
// of the Upstreams the Router created are closed, extensions' Filters and
// Backends that implement io.Closer are closed, and so is the Observer
// when it implements io.Closer. Close does not wait for requests being
// served; stop the http.Server first (Shutdown drains them).

// background tracks the work a Router runs beyond its requests: mirror
// copies. Its context is canceled by Close.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

func newBackground() *background {
	ctx, cancel := context.WithCancel(context.Background())
	return &background{ctx: ctx, cancel: cancel}
}

// start reserves a place for one piece of background work, false once
// the Router is closed.
func (b *background) start() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	return true
}

func (b *background) done() {
	if b != nil {
		b.wg.Done()
	}
}

// context returns the context background work runs under: ctx, canceled
// as well when the Router closes.
func (b *background) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if b == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// close stops new work, cancels what runs and waits for it.
func (b *background) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
}

// closers are the io.Closers a compile built (extensions' Filters and
// Backends), by identity.
type closers map[unsafe.Pointer]io.Closer

// add keeps v when it is an io.Closer.
func (cs closers) add(v any) {
	c, ok := v.(io.Closer)
	if !ok || c == nil {
		return
	}
	cs[(*[2]unsafe.Pointer)(unsafe.Pointer(&c))[1]] = c
}

// closeExcept closes those of cs that keep does not hold.
func (cs closers) closeExcept(keep closers) error {
	var errs []error
	for k, c := range cs {
		if _, kept := keep[k]; !kept {
			errs = append(errs, safeClose(c))
		}
	}
	return errors.Join(errs...)
}

// safeClose closes c, turning a panic into an error.
func safeClose(c io.Closer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errors.New("httproute: Close panicked")
		}
	}()
	return c.Close()
}

// Close releases what the Router owns and makes it answer 503 to every
// request from then on (see the Lifecycle comment in lifecycle.go). It
// waits for mirror copies in flight. Calling Close again does nothing.
func (rt *Router) Close() error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed.Load() {
		return nil
	}
	rt.closed.Store(true)
	t := rt.table.Swap(nil) // from now on every request gets 503
	rt.bg().close()
	var errs []error
	rt.xcache.swap(nil)
	if t != nil {
		errs = append(errs, t.closers.closeExcept(nil))
		if c, ok := t.env.observer.(io.Closer); ok {
			errs = append(errs, safeClose(c))
		}
	}
	return errors.Join(errs...)
}

// bg returns the Router's background tracker, made on first use.
func (rt *Router) bg() *background {
	rt.bgOnce.Do(func() { rt.background = newBackground() })
	return rt.background
}
