// Package httproute serves Kubernetes Gateway API routes in process: it
// compiles Gateways, HTTPRoutes and ReferenceGrants into an http.Handler,
// with no cluster and no proxy in between.
//
//	rt, err := httproute.New(httproute.Config{
//		HTTPRoutes: routes, // []*gatewayv1.HTTPRoute
//		Services: httproute.Services{
//			{Namespace: "default", Name: "web", Port: 80}: httproute.Handler(webMux),
//		},
//	})
//	http.ListenAndServe(":8080", rt)
//
// A Router is built from a Config and rebuilt with Update; each build
// compiles the whole Config into an immutable table that is swapped in
// atomically. Requests never see a half-built table, and a Config that
// cannot be compiled leaves the previous table serving.
//
// # Matching
//
// A request is first given a listener: the Gateway listener on the local
// port it arrived on (or the port passed to Router.Port) whose hostname
// matches its Host most specifically. Requests are only matched against the
// routes of that listener (listener isolation). On HTTPS listeners the
// connection's SNI selects the listener, and a Host that selects another
// listener of the port gets 421. A Config without Gateways has one implicit
// listener that every route attaches to.
//
// Within the listener, a route serves under the intersection of its
// hostnames with the listener's. Paths match as the spec says: Exact is
// case-sensitive and exact; PathPrefix matches whole segments ("/v2" matches
// "/v2", "/v2/" and "/v2/x", never "/v2example") and ignores a trailing
// "/"; RegularExpression is RE2 and must match the whole path. Header and
// query parameter matches are Exact or RE2 RegularExpression (whole value);
// header names are case-insensitive; a repeated header is matched as its
// values joined by ","; a repeated query parameter is matched on its first
// value. Everything in one match is ANDed; the matches of a rule are ORed.
// The path matched and forwarded is the escaped request path with "." and
// ".." segments resolved and repeated slashes merged.
//
// Every default of the CRDs is applied in one place when compiling: no
// matches means PathPrefix "/"; no rules means one such rule; a path with no
// type is PathPrefix; headers and query parameters without a type are
// Exact; weights default to 1.
//
// # Precedence
//
// When several rules match, one comparator decides (compareCandidates), in
// the order of the spec text on HTTPRouteSpec.Hostnames and
// HTTPRouteRule.Matches:
//
//  1. the matching hostname with the most non-wildcard characters, then
//     with the most characters;
//  2. Exact path, then RegularExpression, then PathPrefix;
//  3. the longest path value (prefix or pattern);
//  4. a method match;
//  5. the most header matches;
//  6. the most query parameter matches;
//  7. the oldest route, then "{namespace}/{name}" order;
//  8. rule order, then match order.
//
// The spec leaves the rank of RegularExpression to implementations: here it
// is below Exact and above every PathPrefix, as in Envoy Gateway, so that a
// pattern written for a subtree is not shadowed by a "/" catch-all. A
// request matching no rule gets 404.
//
// The index walks candidates in exactly this order without scanning: a map
// of listeners by hostname, a map of route hostnames (exact, then wildcard
// suffixes from the longest), then per hostname an Exact-path map, the
// ordered regular expressions, and a path-segment trie whose nodes hold
// candidates already sorted. Matching allocates nothing.
//
// # Filters
//
// Filters run in list order, rule filters first, then the filters of the
// backendRef the weighted choice picked; a filter that answers the request
// itself (RequestRedirect, a CORS preflight, an ExternalAuth refusal, an
// extension such as DirectResponse) ends the chain. RequestHeaderModifier
// and ResponseHeaderModifier apply set, then add, then remove, with names
// compared without case. RequestRedirect answers at once, omitting the
// default port of the scheme from Location; URLRewrite changes the host and
// path passed on, with ReplacePrefixMatch following the spec's table of
// trailing slashes. RequestMirror sends a copy from its own goroutine that
// never delays or fails the primary request: bodies up to 64 KiB are
// mirrored, at most 64 copies per filter are in flight, failures are
// logged. CORS answers preflights itself and replaces the backend's CORS
// headers. ExternalAuth (HTTP) asks its backend first: 200 lets the request
// through with the allowed headers, anything else is returned to the
// client, and an unreachable auth backend gives 503 (fail closed). The
// spec's incompatible combinations (RequestRedirect with URLRewrite,
// RequestRedirect with backendRefs, a single-use filter repeated) make the
// rule invalid with reason IncompatibleFilters.
//
// # Backends
//
// A Backend has the shape of http.RoundTripper, so the Router sees the
// status of an answer before any byte reaches the client. Backends are
// resolved when a Config is compiled: Services through Config.Services,
// other kinds through Config.Extensions. Handler serves in process.
// Upstream proxies to network endpoints over HTTP/1.1 with a lean
// transport of its own that parses answers strictly (a malformed answer
// is a 502), closes idle connections after IdleConnTimeout (4s, shorter
// than common backends' idle timeouts) and sends a request again on a new
// connection when it meets one the backend closed and its body can be
// sent again (none, up to 64 KiB, or GetBody); h2c (appProtocol
// kubernetes.io/h2c) and WebSocket upgrades go through net/http's
// transport. It balances by least request (power of two choices, the
// default) or round robin, and ejects an endpoint after 5 consecutive
// connection failures for 30s, doubling up to 300s; its endpoints can be
// replaced with SetEndpoints without rebuilding routes. The spec's
// failure rules apply: a backendRef that cannot be resolved, is forbidden
// (another namespace without a ReferenceGrant) or has an unknown kind
// answers 500 for its share of the weighted choice; a rule without
// backendRefs whose filters do not answer answers 500; a backend that
// refuses connections (or has no healthy endpoint) answers 503, one that
// fails after connecting 502.
//
// # Resilience
//
// timeouts.request bounds the whole exchange, retries and response body
// included, and is answered with 504 even when an in-process handler
// ignores its context; a stream that outlives it is cut. Unset means no
// timeout. timeouts.backendRequest bounds each attempt; an attempt that
// outlives it answers 504. A retry stanza (Gateway API v1.7) retries up to
// attempts times (default 1; 0 disables retries) the statuses listed in
// codes, whatever the method, and connection errors, where the backend was
// never reached; a reset after the request was sent answers 502 and is
// retried only when 502 is listed. Retry n waits a random time between
// backoff (default 25ms, the base interval) and backoff*2^n capped at ten
// times backoff, honouring Retry-After within the request timeout and up
// to MaxRetryAfter. A retry prefers another endpoint and a backendRef that
// has not failed in this request. The status
// of each attempt is held back until the retry decision: nothing is retried
// once a byte has reached the client. Request bodies up to RetryBodyLimit
// are replayed; larger ones are sent once. sessionPersistence acts after
// the weighted split (GEP-1619, v1.7): it pins a client to an Upstream
// endpoint inside the backendRef the split chose, never the choice itself,
// with an HMAC-signed cookie or
// header (see Config.SessionKey). Limit adds circuit breakers to a backend.
// Waits use Config.Sleep and expiry Config.Now, so tests are exact.
//
// # Extensions
//
// An Extension adds a kind of object that ExtensionRef filters or
// backendRefs can reference, keyed by group and kind: its Filter or
// Backend function is called once per reference at compile time with the
// referenced object. A reference that cannot be resolved is never skipped:
// its requests answer 500 and the route reports ResolvedRefs False. A panic
// in an extension filter becomes a 500 and a log record.
//
// # Status
//
// Router.Status reports what a Gateway API controller would write: per
// route and parentRef, Accepted (NoMatchingParent, NotAllowedByListeners,
// NoMatchingListenerHostname, UnsupportedValue, IncompatibleFilters),
// ResolvedRefs (BackendNotFound, InvalidKind, RefNotPermitted,
// UnsupportedProtocol) and PartiallyInvalid; per Gateway listener, its
// conditions and attached-route count. An invalid rule is dropped alone; an
// invalid reference degrades only its share of traffic.
//
// # Concurrency
//
// A Router is safe for concurrent use. Update may run while requests are
// served: each request loads the table once and finishes on it. Randomness
// (Config.Rand), the clock (Config.Now) and the logger (Config.Logger)
// belong to the Router, so two Routers in one process share nothing and
// tests can make every random choice exact.
//
// # Conformance
//
// The conformance/ module runs the upstream Gateway API conformance suite
// against a Router in process; SupportedFeatures lists the features it
// passes.
package httproute
