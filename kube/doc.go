// Package kube feeds an httproute.Router from a Kubernetes cluster: it is a
// Gateway API controller for one GatewayClass, built on client-go.
//
// # Sources
//
// A Controller watches, with shared informers, the GatewayClasses,
// Gateways, HTTPRoutes, GRPCRoutes, ListenerSets, ReferenceGrants and
// BackendTLSPolicies of the Gateway API (GRPCRoutes, ListenerSets and
// BackendTLSPolicies where the cluster serves them: its CRDs may predate
// them), and the Services, EndpointSlices, Secrets, ConfigMaps (CA
// certificates) and Namespaces they reference; objects of every extension kind
// of Options.Base.Extensions that has objects are watched through dynamic
// informers. Any change schedules a rebuild; the rebuilds of changes that
// arrive together are coalesced (Options.Debounce) into one Router.Update
// of a Config built from the informers' caches, so a burst of writes costs
// one (incremental) compile.
//
// The Controller serves the Gateways of the GatewayClasses that name its
// controllerName, or of the one of them Options.GatewayClassName names;
// it accepts those classes and writes nothing into other objects than
// theirs, their Gateways, the routes attached to them and the
// BackendTLSPolicies of the Services those routes reference (an ancestor
// entry per Gateway, next to other controllers' entries, which it
// keeps). Services resolve to Upstreams over the ready endpoints of their
// EndpointSlices (package
// github.com/httproute/httproute/endpointslice); an Upstream lives as long
// as its Service port, across rebuilds, so its connections and its
// endpoints' passive-health state survive them.
//
// # Readiness
//
// Until every informer has synced and the first Config has been compiled,
// Ready reports false and the Controller's handlers answer 503: a replica
// never serves a partial view of the cluster.
//
// # Status
//
// Status is written with server-side apply under the field manager
// FieldManager: the GatewayClass's Accepted condition and supported
// features; each Gateway's addresses, conditions and listeners (conditions,
// attachedRoutes, supportedKinds); the same of each ListenerSet of a
// served Gateway; and in each HTTPRoute and GRPCRoute, the parent entries
// whose controllerName is the Controller's (the list is atomic, so entries
// of other controllers are written back unmodified). Condition
// transition times change only when a status changes, conditions of types
// the Gateway API does not define are left to their owners, an object
// whose status is already right is not written, and a write that loses a
// race with another writer is retried on the object read again.
//
// # Replicas
//
// Every replica serves. Only the holder of a Lease (client-go leader
// election, Options.LeaderElection) writes status; when it stops, another
// replica takes the Lease over within the lease duration and writes.
//
// # Serving
//
// The Controller is an http.Handler (the Router behind a readiness gate).
// Listeners serves the listener ports of the Gateways on local addresses
// (HTTP/1.1 and h2c on plain ports, so that gRPC clients reach
// GRPCRoutes; HTTP/1.1 and h2 over TLS) and follows them as they change;
// Run wires a Controller, its Listeners and a health endpoint from a
// kubeconfig or the in-cluster configuration, for the httproute binary. kube/deploy has the RBAC and a Deployment.
package kube
