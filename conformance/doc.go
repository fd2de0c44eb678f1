// Package conformance runs the upstream Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance v1.7.0, unmodified) against
// httproute.Router, in process: no cluster, and no traffic beyond
// loopback (127.0.0.0/8).
//
// The suite talks to Kubernetes through a controller-runtime client and a
// client-go clientset, and to Gateways through a RoundTripper. Here:
//
//   - the client is controller-runtime's fake, wrapped so that it behaves
//     like an API server where the suite looks (metadata.generation,
//     creation timestamps, UIDs) and so that every write is followed,
//     synchronously, by what the cluster's controllers would do: a Ready
//     Pod with an echo backend for every replica of every Deployment, a
//     Router rebuilt from the Gateways, HTTPRoutes, ReferenceGrants,
//     Namespaces and Secrets, and the status the Router reports written
//     into the objects (see cluster);
//   - every Gateway gets an address, and every listener port of it a
//     loopback server serving router.Port(port) (router.TLSConfig(port)
//     for HTTPS); the suite's dialers are pointed at those servers (see
//     network). A process that may bind port 80 on 127.0.x.y (root, as
//     in CI) also serves each port on the Gateway's address itself, for
//     BackendTLSPolicyGRPCRoute, which dials it with a client of its own;
//     elsewhere that test is reported skipped, with the reason, and
//     report.yaml (written as root) no longer matches the run;
//   - Services resolve, through a httproute.ServiceResolver, to
//     httproute.Upstreams over the loopback echo servers of the Pods that
//     back them (see services);
//   - pod logs, which the mirror tests read, come from the echo backends'
//     request logs through the fake clientset.
//
// TestConformance selects the tests from httproute.SupportedFeatures, runs
// each one's Run, and checks report.yaml, the ConformanceReport of the
// run; go test ./... -update-report rewrites it.
package conformance
