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
	// obs is the record of the request, nil when nobody wants one.
	obs *observation
	// pre is set while pre-routing filters run (listenerfilter.go).
	pre *preState
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
// The Match is the Router's own, shared by every request the rule serves:
// it must not be modified (Lookup returns a copy the caller owns).
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
// what a filter sets. A request is recorded (serveObserved) when the
// Router has an Observer or the request's context a WithRecord holder.
func (t *table) serve(w http.ResponseWriter, r *http.Request, port int32, gw *types.NamespacedName) {
	raw, path, v := t.paths.check(r.URL)
	holder, _ := r.Context().Value(recordKey{}).(*Record)
	if t.env.observer != nil || holder != nil {
		t.serveObserved(w, r, port, gw, raw, path, v, holder)
		return
	}
	if v != pathServe {
		v.answer(w, r, path)
		return
	}
	t.route(&stateContext{Context: r.Context()}, w, r, raw, path, port, gw)
}

// route serves a request whose path is served, with ctx as its state:
// the matched rule's handler, or Config.NotFound or an error when no rule
// matches.
func (t *table) route(ctx *stateContext, w http.ResponseWriter, r *http.Request, raw, path string, port int32, gw *types.NamespacedName) {
	o := ctx.st.obs
	r2 := r.WithContext(ctx)
	r2.Header = withoutConnectionFields(r2.Header)
	if o != nil {
		o.request(r2)
	}
	ctx.st.env = t.env
	g, host, err := t.group(r2, port, gw)
	if err == nil && g.pre != nil {
		// Pre-routing filters first (listenerfilter.go); they end in
		// matchIn, on the request as they leave it.
		r2 = withNormalPath(r2, true, raw, path)
		ctx.st.pre = &preState{host: r2.Host, matchHost: host, raw: raw, path: path}
		g.pre.ServeHTTP(w, r2)
		return
	}
	if err != nil {
		t.unmatched(&ctx.st, w, r2, raw, path, err)
		return
	}
	t.matchIn(&ctx.st, g, w, r2, true, raw, host, path)
}

// matchIn serves a request with the rule of group g that matches it, or
// Config.NotFound or an error when none does.
// owned reports whether r is a copy the Router made, which it may modify;
// host is r's host as matching sees it (requestHost).
func (t *table) matchIn(st *requestState, g *listenerGroup, w http.ResponseWriter, r *http.Request, owned bool, raw, host, path string) {
	c := g.findIn(r, host, path)
	if c == nil {
		t.unmatched(st, w, r, raw, path, ErrNoRoute)
		return
	}
	r2 := withNormalPath(r, owned, raw, path)
	st.cand = c
	st.path = path
	if o := st.obs; o != nil {
		r2 = o.matched(t, c, r2)
	}
	c.rule.handler.ServeHTTP(w, r2)
}

// unmatched answers a request no rule serves: Config.NotFound when it is
// set and no route matched, an error otherwise.
func (t *table) unmatched(st *requestState, w http.ResponseWriter, r2 *http.Request, raw, path string, err error) {
	if err == ErrNoRoute && t.env.notFound != nil {
		r2 = withNormalPath(r2, false, raw, path)
	}
	if o := st.obs; o != nil {
		r2 = o.unmatched(err, r2)
	}
	if err == ErrNoRoute && t.env.notFound != nil {
		t.env.notFound.ServeHTTP(w, r2)
		return
	}
	writeError(w, err)
}

// withNormalPath returns r carrying the normalized path in its URL and
// RequestURI, as what serves it sees it. r is modified in place when
// owned (a copy the Router made), else copied first.
func withNormalPath(r *http.Request, owned bool, raw, path string) *http.Request {
	if !owned {
		r2 := *r
		r = &r2
	}
	if path != raw {
		// Forward the normalized path, not the one that was sent.
		u := *r.URL
		setEscapedPath(&u, path)
		r.URL = &u
	}
	if r.Method != http.MethodConnect {
		r.RequestURI, _ = originForm(r.RequestURI, r.URL, path)
	}
	return r
}
