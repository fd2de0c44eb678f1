package httproute

import "strings"

// Hostnames, as Gateway API uses them: an exact DNS name, or "*." followed
// by a DNS suffix, matching any name with at least one more label. The empty
// string stands for "no hostname", which matches everything.

// hostMatches reports whether the request host h (lower case, no port)
// matches the hostname pattern p.
func hostMatches(p, h string) bool {
	switch {
	case p == "":
		return true
	case strings.HasPrefix(p, "*."):
		suffix := p[1:] // ".example.com"
		return len(h) > len(suffix) && strings.HasSuffix(h, suffix)
	default:
		return p == h
	}
}

// intersectHostnames returns the hostname under which a route hostname r
// serves on a listener with hostname l, and whether they intersect at all.
// The result is the more specific of the two: a listener "*.example.com"
// and a route "foo.example.com" give "foo.example.com"; a listener
// "foo.example.com" and a route "*.example.com" give "foo.example.com".
func intersectHostnames(l, r string) (string, bool) {
	switch {
	case l == "":
		return r, true
	case r == "":
		return l, true
	case l == r:
		return r, true
	}
	lw, rw := strings.HasPrefix(l, "*."), strings.HasPrefix(r, "*.")
	switch {
	case lw && !rw:
		if hostMatches(l, r) {
			return r, true
		}
	case !lw && rw:
		if hostMatches(r, l) {
			return l, true
		}
	case lw && rw:
		// Both wildcards: the longer suffix is the intersection when it
		// lies inside the shorter one.
		if hostMatches(l, r[2:]) {
			return r, true
		}
		if hostMatches(r, l[2:]) {
			return l, true
		}
	}
	return "", false
}

// requestHost returns the Host of a request in lower case, without a port
// and without a trailing dot. It allocates only when the host has upper
// case letters.
func requestHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		// An IPv6 literal keeps its brackets; only a port after "]" or in a
		// name without brackets is cut.
		if strings.HasPrefix(host, "[") {
			if j := strings.IndexByte(host, ']'); j >= 0 && j < i {
				host = host[:i]
			}
		} else {
			host = host[:i]
		}
	}
	host = strings.TrimSuffix(host, ".")
	return strings.ToLower(host)
}
