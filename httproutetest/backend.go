package httproutetest

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/httproute/httproute"
)

// BackendHeader is the response header in which a Backend names itself.
const BackendHeader = "Httproutetest-Backend"

// Received is a request as a Backend received it.
type Received struct {
	Method string
	Host   string
	// Path is the escaped path, with "?" and the query when there is one.
	Path   string
	Header http.Header
	Body   string
}

// Backend is the backend of one Service port: it records every request it
// receives, then answers with Handler, or by default with 200 and a JSON
// rendering of the Received request. Every answer carries BackendHeader.
type Backend struct {
	// Name is "namespace/name:port".
	Name string

	mu       sync.Mutex
	handler  http.Handler
	received []*Received
	changed  chan struct{} // closed and replaced on each request
	upstream *httproute.Upstream
}

// SetHandler makes the backend answer with h, after recording the request
// (and reading its body). Nil restores the echo answer.
func (b *Backend) SetHandler(h http.Handler) {
	b.mu.Lock()
	b.handler = h
	b.mu.Unlock()
}

// ServeHTTP records r and answers it.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rcv := &Received{Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), Header: r.Header.Clone(), Body: string(body)}
	if r.URL.RawQuery != "" {
		rcv.Path += "?" + r.URL.RawQuery
	}
	b.mu.Lock()
	b.received = append(b.received, rcv)
	close(b.changed)
	b.changed = make(chan struct{})
	h := b.handler
	b.mu.Unlock()
	w.Header().Set(BackendHeader, b.Name)
	if h != nil {
		h.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rcv)
}

// Received returns the requests received so far, oldest first.
func (b *Backend) Received() []*Received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*Received(nil), b.received...)
}

// WaitReceived waits until the backend has received n requests or timeout
// passes, and returns those received. Use it for requests a Router sends
// asynchronously, such as mirrors.
func (b *Backend) WaitReceived(n int, timeout time.Duration) []*Received {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		got, ch := len(b.received), b.changed
		b.mu.Unlock()
		if got >= n {
			return b.Received()
		}
		select {
		case <-ch:
		case <-deadline.C:
			return b.Received()
		}
	}
}

// find returns the request tagged with id, nil when none.
func (b *Backend) find(id string) *Received {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.received) - 1; i >= 0; i-- {
		if b.received[i].Header.Get(IDHeader) == id {
			return b.received[i]
		}
	}
	return nil
}
