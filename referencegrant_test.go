package httproute

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestGrantsAllows(t *testing.T) {
	name := gatewayv1.ObjectName("svc-a")
	g := newGrants([]*gatewayv1.ReferenceGrant{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "backends", Name: "allow-routes"},
		Spec: gatewayv1.ReferenceGrantSpec{
			From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "web"}},
			To:   []gatewayv1.ReferenceGrantTo{{Group: "", Kind: "Service", Name: &name}},
		},
	}, {
		ObjectMeta: metav1.ObjectMeta{Namespace: "backends", Name: "allow-all-services"},
		Spec: gatewayv1.ReferenceGrantSpec{
			From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "other"}},
			To:   []gatewayv1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
		},
	}})
	tests := []struct {
		name                   string
		fromNS, toKind, toName string
		toNS                   string
		want                   bool
	}{
		{"same namespace needs no grant", "web", "Service", "x", "web", true},
		{"named grant", "web", "Service", "svc-a", "backends", true},
		{"named grant, other name", "web", "Service", "svc-b", "backends", false},
		{"grant without name covers all", "other", "Service", "svc-b", "backends", true},
		{"wrong kind", "other", "Secret", "svc-b", "backends", false},
		{"no grant from namespace", "third", "Service", "svc-a", "backends", false},
		{"no grant in namespace", "web", "Service", "svc-a", "elsewhere", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.allows(gatewayv1.GroupName, "HTTPRoute", tt.fromNS, "", tt.toKind, tt.toNS, tt.toName)
			if got != tt.want {
				t.Errorf("allows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSecretLookupHonoursReferenceGrants(t *testing.T) {
	secret := func(ns, name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	c := &compiler{
		grants: newGrants([]*gatewayv1.ReferenceGrant{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "creds", Name: "backends-may-read"},
			Spec: gatewayv1.ReferenceGrantSpec{
				From: []gatewayv1.ReferenceGrantFrom{{Group: "gateway.kgateway.dev", Kind: "Backend", Namespace: "apps"}},
				To:   []gatewayv1.ReferenceGrantTo{{Group: "", Kind: "Secret"}},
			},
		}}),
		secrets: map[types.NamespacedName]*corev1.Secret{
			{Namespace: "apps", Name: "local"}: secret("apps", "local"),
			{Namespace: "creds", Name: "aws"}:  secret("creds", "aws"),
			{Namespace: "other", Name: "aws"}:  secret("other", "aws"),
		},
	}
	lookup := c.secretLookup("gateway.kgateway.dev", "Backend", "apps")
	if s, err := lookup("", "local"); err != nil || s.Name != "local" {
		t.Errorf("same namespace: %v %v", s, err)
	}
	if s, err := lookup("creds", "aws"); err != nil || s.Namespace != "creds" {
		t.Errorf("granted namespace: %v %v", s, err)
	}
	if _, err := lookup("other", "aws"); !errors.Is(err, ErrNotPermitted) {
		t.Errorf("namespace without a grant: %v, want ErrNotPermitted", err)
	}
	if _, err := lookup("apps", "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing secret: %v, want ErrNotFound", err)
	}
	if _, err := c.secretLookup("gateway.kgateway.dev", "Parameter", "apps")("creds", "aws"); !errors.Is(err, ErrNotPermitted) {
		t.Errorf("a grant for another kind must not open the secret: %v", err)
	}
}
