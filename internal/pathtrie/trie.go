// Package pathtrie is a path-segment trie: values are stored under URL path
// prefixes split at "/", and a lookup returns every value on the way from the
// root to the deepest node a request path reaches.
//
// The trie knows nothing about routing precedence; callers store values that
// are already ordered and walk the result deepest first.
package pathtrie

import "strings"

// Tree maps path prefixes to values. The zero Tree is empty and ready to use.
// A Tree is not safe for concurrent Insert; concurrent Match calls on a Tree
// that is no longer modified are safe.
type Tree[V any] struct {
	root node[V]
	size int
}

type node[V any] struct {
	children map[string]*node[V]
	value    V
	has      bool
}

// Insert returns a pointer to the value stored under prefix, creating the
// node if needed. The prefix must start with "/"; a trailing "/" is ignored,
// so "/a/" and "/a" share a node, and "/" is the root.
func (t *Tree[V]) Insert(prefix string) *V {
	n := &t.root
	p := strings.TrimSuffix(prefix, "/")
	for p != "" {
		var seg string
		seg, p = cutSegment(p)
		child := n.children[seg]
		if child == nil {
			if n.children == nil {
				n.children = make(map[string]*node[V])
			}
			child = &node[V]{}
			n.children[seg] = child
		}
		n = child
	}
	if !n.has {
		n.has = true
		t.size++
	}
	return &n.value
}

// Len reports how many prefixes hold a value.
func (t *Tree[V]) Len() int { return t.size }

// Match appends to buf the values stored under every prefix of path, in
// whole segments, from the root down to the deepest match, and returns the
// extended slice. Callers iterate it backwards for longest-prefix-first
// order. Match does not allocate unless buf runs out of capacity.
//
// A prefix matches when its segments equal the leading segments of path:
// "/v2" matches "/v2", "/v2/" and "/v2/x", never "/v2x".
func (t *Tree[V]) Match(path string, buf []*V) []*V {
	n := &t.root
	if n.has {
		buf = append(buf, &n.value)
	}
	p := path
	for len(p) > 0 && p[0] == '/' && n.children != nil {
		var seg string
		seg, p = cutSegment(p)
		child := n.children[seg]
		if child == nil {
			break
		}
		n = child
		if n.has {
			buf = append(buf, &n.value)
		}
	}
	return buf
}

// cutSegment splits a path that starts with "/" into its first segment and
// the rest, which starts with "/" or is empty.
func cutSegment(p string) (seg, rest string) {
	p = p[1:]
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

// Walk calls fn for every stored prefix and its value, in no particular
// order. It is meant for tests and introspection, not for serving.
func (t *Tree[V]) Walk(fn func(prefix string, v *V)) {
	var walk func(prefix string, n *node[V])
	walk = func(prefix string, n *node[V]) {
		if n.has {
			p := prefix
			if p == "" {
				p = "/"
			}
			fn(p, &n.value)
		}
		for seg, c := range n.children {
			walk(prefix+"/"+seg, c)
		}
	}
	walk("", &t.root)
}
