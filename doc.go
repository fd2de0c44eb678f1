// Package httproute serves Kubernetes Gateway API routes in process: it
// compiles Gateways, HTTPRoutes and ReferenceGrants into an http.Handler,
// with no cluster and no proxy in between.
//
//	rt, err := httproute.New(httproute.Config{
//		HTTPRoutes: routes, // []*gatewayv1.HTTPRoute
//		Services: httproute.Services{
//			{Namespace: "default", Name: "web", Port: 80}: httproute.InProcess(webMux),
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
// connection's SNI selects the listener whose certificate the handshake
// uses (without SNI, the listener without hostname), and a Host that
// selects another listener of the port gets 421, with or without SNI; a
// Host that no listener of the port matches gets 404. A Config without
// Gateways has one implicit listener that every route attaches to.
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
//
// The path is normalized once per request, before anything looks at it,
// as RFC 3986 section 6.2.2 describes: escapes of unreserved characters
// are decoded ("/%61dmin" is "/admin"), the hex digits of the other
// escapes upper-cased, bytes a path may not hold raw escaped, "." and ".."
// segments resolved ("%2e" included) and repeated slashes merged, a
// trailing slash kept; an invalid escape is answered 400. That one form
// is what matching, Lookup, rewrites, redirects, ExternalAuth and backends
// see: a proxied backend receives it as its request-target, an in-process
// handler in r.URL.Path, r.URL.RawPath and r.RequestURI, which agree.
// Exact and PathPrefix values are normalized when compiled. Escaped slashes
// and backslashes ("%2F", "%5C") follow Config.EscapedSlashes, Envoy's
// four actions: by default (Envoy Gateway's) the request is redirected
// (307) to the path with them unescaped; KeepUnchanged keeps them as
// escapes that never separate segments; RejectRequest answers 400;
// UnescapeAndForward serves the unescaped path. A path longer than
// Config.MaxPathLength (DefaultMaxPathLength, 8 KiB, by default) as the
// client sent it is answered 414 before it is normalized or matched. The
// fields the client's Connection header names are removed when the
// request arrives, before matching and filters.
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
// regular expressions indexed by their literal prefix (a request runs only
// those whose literal prefix its path starts with, merged back into
// precedence order), and a path-segment trie whose nodes hold candidates
// already sorted. Matching allocates nothing.
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
// names in allowedResponseHeaders are the auth service's alone: the
// client's fields of those names (or of names differing only in case or
// in "_" for "-") are removed before the check. A RequestRedirect that
// would build an http(s) Location with an empty host (a request with an
// empty or missing Host) answers 400 instead. The
// spec's incompatible combinations (RequestRedirect with URLRewrite,
// RequestRedirect with backendRefs, a single-use filter repeated) make the
// rule invalid with reason IncompatibleFilters.
//
// # Backends
//
// A Backend has the shape of http.RoundTripper, so the Router sees the
// status of an answer before any byte reaches the client. Backends are
// resolved when a Config is compiled: Services through Config.Services,
// other kinds through Config.Extensions. InProcess serves an http.Handler
// in process (only the Backends it makes, never another Backend that
// merely has a ServeHTTP method).
// Upstream proxies to network endpoints over HTTP/1.1 with a lean
// transport of its own that parses answers strictly (a malformed answer
// is a 502), closes idle connections after IdleConnTimeout (4s, shorter
// than common backends' idle timeouts) and sends a request again on a new
// connection when it meets one the backend closed and its body can be
// sent again (none, up to 64 KiB, or GetBody); h2c (appProtocol
// kubernetes.io/h2c), TLS and WebSocket upgrades go through net/http's
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
// # gRPC
//
// GRPCRoutes (Config.GRPCRoutes) are compiled into the same table as
// HTTPRoutes and attach to the same listeners (HTTP and HTTPS listeners
// admit both kinds unless allowedRoutes.kinds says otherwise). A GRPCRoute
// match applies to gRPC requests only (Content-Type application/grpc, with
// or without a "+format"): its method match (Exact or RegularExpression,
// RE2 over the whole name, on the service, the method or both) is matched
// against the request path "/{service}/{method}", and its header matches
// as an HTTPRoute's. Its filters (RequestHeaderModifier,
// ResponseHeaderModifier, RequestMirror, ExtensionRef), weights and named
// rules behave as an HTTPRoute's. Precedence is the one comparator's: after
// the hostname, a GRPCRoute match comes before an HTTPRoute match, and
// between GRPCRoute matches the service decides first (Exact, then
// RegularExpression, then none; then the most characters), then the
// method in the same way, then the header count, creation time, name and
// rule order. Per hostname the index looks a request's service up in a
// map of the Exact-service candidates, then walks the others.
//
// Following GEP-1016, a listener does not serve an HTTPRoute and a
// GRPCRoute whose hostnames intersect: the older route (then the first in
// "{namespace}/{name}" order) is served there, and the other reports
// Accepted False with reason NotAllowedByListeners for the parentRefs that
// attached it nowhere else.
//
// gRPC needs HTTP/2 end to end: serve plain listeners with h2c accepted
// with prior knowledge (http.Server.Protocols with SetUnencryptedHTTP2),
// HTTPS listeners with TLSConfig (which offers h2 through ALPN); proxy to
// backends with an Upstream of appProtocol kubernetes.io/h2c, or serve a
// gRPC server's http.Handler in process with InProcess (grpc-go's
// Server.ServeHTTP). The Router does not see how the host serves: a
// listener served without HTTP/2 still reports Accepted. The Router's own
// answers to gRPC requests are gRPC statuses in a Trailers-Only response
// (HTTP 200): UNIMPLEMENTED where no rule matches, UNAVAILABLE for a rule
// or backendRef that cannot be served (GRPCRouteRule.BackendRefs) and for
// 502 and 503, DEADLINE_EXCEEDED for timeouts, gRPC's HTTP mapping for the
// rest.
//
// # TLS
//
// HTTPS listeners take their certificates from Secrets and pick one by SNI
// (Router.TLSConfig). A Gateway's spec.tls.frontend makes them verify
// client certificates against CA certificates of ConfigMaps or Secrets,
// per port or by default: AllowValidOnly fails handshakes without a valid
// certificate, AllowInsecureFallback requests one and accepts any (and the
// Gateway reports InsecureFrontendValidationMode). A listener none of
// whose CA references resolves is not served.
//
// Config.BackendTLSPolicies make the Router dial the Service ports they
// target over TLS: the ServiceResolver returns the port's *Upstream as
// usual, and the Router sends requests to its endpoints over TLS with the
// policy's hostname as SNI, verified against its CA certificates (or the
// system's) and subjectAltNames. A policy naming a port by sectionName
// needs a resolver that implements ServicePortNamer; a policy that covers
// a Backend other than an *Upstream is reported as UnsupportedProtocol on
// the routes. A Gateway's spec.tls.backend.clientCertificateRef is the
// certificate those connections present for requests that came through
// it. An invalid policy answers 500 for its ports rather than send
// cleartext; a backend that fails verification answers 502. XBackends use
// the same TLS configuration code (spec.tls).
//
// # Resilience
//
// timeouts.request bounds the whole exchange, retries and response body
// included, and is answered with 504 even when an in-process handler
// ignores its context; a stream that outlives it is cut. Unset means no
// timeout. timeouts.backendRequest bounds each attempt, at any kind of
// backend; an attempt that outlives it answers 504. An in-process handler
// under it runs in its own goroutine, so that its attempt fails (504, or a
// retry) when the deadline passes even if it ignores its context; its
// later writes go nowhere, and an answer it had started is cut off as a
// proxied stream is. A retry stanza (Gateway API v1.7) retries up to
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
// # Pre-routing filters
//
// Listener filters.requests (Gateway API v1.7, GEP-5224) run before route
// matching, in list order: ExternalAuth and ExtensionRef filters may
// change headers, path and method that matching then sees, or answer the
// request themselves, but not its Host. See listenerfilter.go.
//
// # ListenerSets
//
// ListenerSets (GEP-1713) contribute listeners to the Gateways whose
// spec.allowedListeners admits them; each Gateway then serves one merged
// list (its own listeners first, then its ListenerSets' from the oldest),
// in which a listener conflicting with an earlier one on port, protocol
// or hostname is reported Conflicted and not served. Routes attach to a
// ListenerSet's listeners through parentRefs of kind ListenerSet only.
// Router.Gateway serves and TLSConfig terminates the merged listeners,
// and GatewayRouter.Ports lists the ports to serve. See listenerset.go.
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
// conditions and attached-route count; per ListenerSet, Accepted and
// Programmed (NotAllowed, ParentNotAccepted, ListenersNotValid) and its
// listeners'; per XTelemetryPolicy and target
// Gateway, Accepted (Conflicted, TargetNotFound, Invalid) and ResolvedRefs.
// An invalid rule is dropped alone; an invalid reference degrades only its
// share of traffic.
//
// # Observability
//
// Config.Observer gets a Record of every request once the Router is done
// with it: the Gateway, listener and port, route, rule and match, the
// backendRef the weighted choice picked, the endpoint, every attempt with
// its status, error class and timings, the status, sizes, duration,
// upstream time to first byte, the limits that refused it and Envoy-like
// response flags (NR, UH, UF, UO, UT, URX, UC, DC ...). With no Observer
// nothing is recorded and nothing more is allocated; with one, the
// record comes from a pool of the Router's and goes back to it once the
// Observer has seen it (Observers copy what they keep), so that it
// allocates nothing either, but for the counter of a request body.
// Optional interfaces add span hooks
// (RequestStarter, AttemptStarter), the time to first byte, which costs a
// clock reading per attempt and is taken only when asked for
// (FirstByteObserver), and events that belong to no request
// (MirrorObserver, EndpointObserver, UpdateObserver); Observers fans out
// to several. NewAccessLog writes access logs through log/slog; the
// promroute and otelroute modules keep Prometheus metrics and
// OpenTelemetry traces and metrics. Middleware around the Router reads
// the record of a request it passes on with WithRecord. XTelemetryPolicies
// are compiled per Gateway and handed to Observers (Record.Telemetry) and
// to the host (Router.TelemetryPolicies). Config.NotFound serves what no
// rule matches.
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
