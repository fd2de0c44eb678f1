// Package profile is the conformance profiles both harnesses (the
// in-process run of package conformance and the cluster mode of
// kube/conformance) run the upstream suite with and report on, so that
// the two count the same tests.
package profile

import (
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"
)

// All returns the profiles of a run: GATEWAY-HTTP and GATEWAY-GRPC.
// Upstream's GATEWAY-GRPC (v1.7.0) leaves the GRPCRoute extended features
// (GRPCRouteNamedRouteRule, GRPCRouteRequestHeaderModifier) out of its
// extended features, so that no profile would count the tests that need
// them; a run here counts them under GATEWAY-GRPC.
func All() []suite.ConformanceProfile {
	grpc := suite.GatewayGRPCConformanceProfile
	grpc.ExtendedFeatures = grpc.ExtendedFeatures.Clone().Insert(
		features.SetsToNamesSet(features.GRPCRouteExtendedFeatures).UnsortedList()...)
	return []suite.ConformanceProfile{suite.GatewayHTTPConformanceProfile, grpc}
}

// Names returns the names of All, for the suite's options.
func Names() []suite.ConformanceProfileName {
	var out []suite.ConformanceProfileName
	for _, p := range All() {
		out = append(out, p.Name)
	}
	return out
}

// Supported returns the features a run claims: the Router's, plus the
// core features of every profile, which a profile implies.
func Supported(router []features.FeatureName) sets.Set[features.FeatureName] {
	out := sets.New(router...)
	for _, p := range All() {
		out = out.Union(p.CoreFeatures)
	}
	return out
}

// Includes reports whether every feature of t belongs to p.
func Includes(p suite.ConformanceProfile, t suite.ConformanceTest) bool {
	for _, f := range t.Features {
		if !p.CoreFeatures.Has(f) && !p.ExtendedFeatures.Has(f) {
			return false
		}
	}
	return true
}

// InAny reports whether t belongs to one of the profiles of All.
func InAny(t suite.ConformanceTest) bool {
	for _, p := range All() {
		if Includes(p, t) {
			return true
		}
	}
	return false
}
