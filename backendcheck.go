package httproute

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
)

// A Backend the host passes in is host data: it may be nil, a typed nil,
// or a zero value of a type that needs a constructor. checkBackend finds
// those when a Config is compiled, so that the backendRef is refused with
// a reason (its share answers 500) instead of panicking on a request.

// errInvalidBackend is wrapped by the errors of backends that cannot serve.
var errInvalidBackend = errors.New("invalid backend")

// backendChecker is implemented by the library's own Backends.
type backendChecker interface {
	checkBackend() error
}

// checkBackend reports why b cannot serve requests, or nil.
func checkBackend(b Backend) error {
	if b == nil {
		return fmt.Errorf("%w: nil Backend", errInvalidBackend)
	}
	if v := reflect.ValueOf(b); isNilable(v.Kind()) && v.IsNil() {
		return fmt.Errorf("%w: nil %T", errInvalidBackend, b)
	}
	if c, ok := b.(backendChecker); ok {
		return c.checkBackend()
	}
	return nil
}

func isNilable(k reflect.Kind) bool {
	switch k {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return true
	default:
		return false
	}
}

func (u *Upstream) checkBackend() error {
	if u.transport == nil || u.endpoints.Load() == nil {
		return fmt.Errorf("%w: an Upstream must be made with NewUpstream", errInvalidBackend)
	}
	return nil
}

func (b handlerBackend) checkBackend() error {
	if b.h == nil {
		return fmt.Errorf("%w: Handler(nil)", errInvalidBackend)
	}
	if v := reflect.ValueOf(b.h); isNilable(v.Kind()) && v.IsNil() {
		return fmt.Errorf("%w: Handler of a nil %T", errInvalidBackend, b.h)
	}
	return nil
}

func (b *limitedBackend) checkBackend() error {
	if b.lim == nil {
		return fmt.Errorf("%w: a limited Backend must be made with Limit", errInvalidBackend)
	}
	if err := checkBackend(b.inner); err != nil {
		return fmt.Errorf("Limit: %w", err)
	}
	return nil
}

// callResolver calls host code that resolves a backend (a ServiceResolver,
// an Extension's Backend constructor), turning a panic into an error and
// refusing a Backend that cannot serve.
func callResolver(what string, fn func() (Backend, error)) (b Backend, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("%s panicked: %v: %w", what, p, ErrNotFound)
		}
	}()
	b, err = fn()
	if err != nil {
		return nil, err
	}
	if err := checkBackend(b); err != nil {
		return nil, fmt.Errorf("%s returned an %w: %w", what, err, ErrNotFound)
	}
	return b, nil
}

var _ http.Handler = handlerBackend{}
