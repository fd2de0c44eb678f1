package httproute

import gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

// grants indexes ReferenceGrants by the namespace they live in, which is
// the namespace of the objects they let others reference.
type grants map[string][]*gatewayv1.ReferenceGrant

func newGrants(list []*gatewayv1.ReferenceGrant) grants {
	g := grants{}
	for _, rg := range list {
		g[rg.Namespace] = append(g[rg.Namespace], rg)
	}
	return g
}

// allows reports whether an object of fromGroup/fromKind in namespace
// fromNS may reference the object toGroup/toKind/toName in namespace toNS.
// References within one namespace need no grant.
func (g grants) allows(fromGroup, fromKind, fromNS, toGroup, toKind, toNS, toName string) bool {
	if fromNS == toNS {
		return true
	}
	for _, rg := range g[toNS] {
		fromOK := false
		for _, f := range rg.Spec.From {
			if string(f.Group) == fromGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS {
				fromOK = true
				break
			}
		}
		if !fromOK {
			continue
		}
		for _, to := range rg.Spec.To {
			if string(to.Group) == toGroup && string(to.Kind) == toKind &&
				(to.Name == nil || *to.Name == "" || string(*to.Name) == toName) {
				return true
			}
		}
	}
	return false
}
