package httproute

import (
	"context"
	"net/http"

	"k8s.io/apimachinery/pkg/types"
)

// requestState is what the Router knows about a request it is serving. It
// is allocated once per request and reachable from the request's context.
type requestState struct {
	env  *env
	cand *candidate
	// path is the cleaned, escaped path the request matched with.
	path string
	// backend is the backendRef chosen by the weighted split, once chosen.
	backend *BackendChoice
	// pin is the endpoint id a session asks for; endpoint is the id of
	// the endpoint an Upstream sent the current attempt to; avoid is the
	// endpoint a retry should not go back to when another is healthy.
	pin      string
	endpoint string
	avoid    string
	// attemptErr is why the current attempt got no answer from its
	// backend (set by the proxy), nil otherwise.
	attemptErr error
	// attempt counts the retries made so far (0 for the first attempt).
	attempt int
}

type stateKey struct{}

// stateContext carries the requestState in one allocation with the context
// node that holds it.
type stateContext struct {
	context.Context
	st requestState
}

func (c *stateContext) Value(key any) any {
	if key == (stateKey{}) {
		return &c.st
	}
	return c.Context.Value(key)
}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// MatchFromContext returns what the Router matched for the request whose
// context this is: the route, rule, match and backends, as Lookup reports
// them. It returns nil for a request that did not come through a Router.
func MatchFromContext(ctx context.Context) *Match {
	if st := stateFrom(ctx); st != nil && st.cand != nil {
		return st.cand.info
	}
	return nil
}

// BackendFromContext returns the backendRef the weighted choice picked for
// the request, or nil before the choice or outside a Router.
func BackendFromContext(ctx context.Context) *BackendChoice {
	if st := stateFrom(ctx); st != nil {
		return st.backend
	}
	return nil
}

// statelessContext hides the Router's state of a request from requests
// made on its behalf (mirror copies, external authorization checks): they
// must neither read nor change the primary's pin, endpoint or attempt.
type statelessContext struct{ context.Context }

func (c statelessContext) Value(key any) any {
	if key == (stateKey{}) {
		return nil
	}
	return c.Context.Value(key)
}

// setBackend records the chosen backendRef in the request state before
// calling h.
func setBackend(choice *BackendChoice, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateFrom(r.Context()); st != nil {
			st.backend = choice
		}
		h.ServeHTTP(w, r)
	})
}

// serve routes one request through the table.
func (t *table) serve(w http.ResponseWriter, r *http.Request, port int32, gw *types.NamespacedName) {
	escaped := r.URL.EscapedPath()
	path := cleanPath(escaped)
	c, err := t.find(r, path, port, gw)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := &stateContext{Context: r.Context()}
	ctx.st.env = t.env
	ctx.st.cand = c
	ctx.st.path = path
	r2 := r.WithContext(ctx)
	if path != escaped {
		// Forward the cleaned path, not the one that was sent.
		u := *r.URL
		setEscapedPath(&u, ctx.st.path)
		r2.URL = &u
	}
	c.rule.handler.ServeHTTP(w, r2)
}
