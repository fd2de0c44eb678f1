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
	// path is the normalized, escaped path the request matched with.
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
// calling h, with a RequestURI that agrees with the URL the filters left
// (withRequestURI).
func setBackend(choice *BackendChoice, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateFrom(r.Context()); st != nil {
			st.backend = choice
		}
		h.ServeHTTP(w, withRequestURI(r))
	})
}

// serve routes one request through the table. The path is normalized once
// (normalizePath), before anything else looks at the request; matching,
// filters and backends all see the normal form, in r.URL and
// r.RequestURI alike. The fields the client's Connection header names are
// removed next, before matching and filters, so that they cannot remove
// what a filter sets.
func (t *table) serve(w http.ResponseWriter, r *http.Request, port int32, gw *types.NamespacedName) {
	raw, path, v := t.paths.check(r.URL)
	if v != pathServe {
		v.answer(w, r, path)
		return
	}
	ctx := &stateContext{Context: r.Context()}
	r2 := r.WithContext(ctx)
	r2.Header = withoutConnectionFields(r2.Header)
	c, err := t.find(r2, path, port, gw)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx.st.env = t.env
	ctx.st.cand = c
	ctx.st.path = path
	if path != raw {
		// Forward the normalized path, not the one that was sent.
		u := *r.URL
		setEscapedPath(&u, path)
		r2.URL = &u
	}
	if r2.Method != http.MethodConnect {
		r2.RequestURI, _ = originForm(r2.RequestURI, r2.URL, path)
	}
	c.rule.handler.ServeHTTP(w, r2)
}
