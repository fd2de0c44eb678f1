// Package prefixtrie is a byte-string radix trie: values are stored under
// keys, and a lookup returns the value of every key that is a prefix of a
// string, shortest first.
//
// The trie knows nothing about routing precedence; callers store values
// that are already ordered and merge what a lookup returns.
package prefixtrie

// Tree maps keys to values. The zero Tree is empty and ready to use. A Tree
// is not safe for concurrent Insert; concurrent Match calls on a Tree that
// is no longer modified are safe.
type Tree[V any] struct {
	root node[V]
	size int
}

type node[V any] struct {
	// label is the part of the key between the parent and this node; kids
	// are sorted by the first byte of their labels, which differ.
	label string
	kids  []*node[V]
	value V
	has   bool
}

// Insert returns a pointer to the value stored under key, creating the
// node if needed. The empty key is the root.
func (t *Tree[V]) Insert(key string) *V {
	n := &t.root
	for key != "" {
		i, found := n.kid(key[0])
		if !found {
			c := &node[V]{label: key}
			n.kids = append(n.kids, nil)
			copy(n.kids[i+1:], n.kids[i:])
			n.kids[i] = c
			n = c
			break
		}
		c := n.kids[i]
		l := commonPrefix(c.label, key)
		if l < len(c.label) {
			// Split c: a node for the shared part takes its place.
			mid := &node[V]{label: c.label[:l], kids: []*node[V]{c}}
			c.label = c.label[l:]
			n.kids[i] = mid
			c = mid
		}
		n, key = c, key[l:]
	}
	if !n.has {
		n.has = true
		t.size++
	}
	return &n.value
}

// Len reports how many keys hold a value.
func (t *Tree[V]) Len() int { return t.size }

// Match appends to buf the values stored under every key that is a prefix
// of s, shortest first, and returns the extended slice. It does not
// allocate unless buf runs out of capacity.
func (t *Tree[V]) Match(s string, buf []*V) []*V {
	n := &t.root
	for {
		if n.has {
			buf = append(buf, &n.value)
		}
		if s == "" {
			return buf
		}
		i, found := n.kid(s[0])
		if !found {
			return buf
		}
		c := n.kids[i]
		if len(s) < len(c.label) || s[:len(c.label)] != c.label {
			return buf
		}
		n, s = c, s[len(c.label):]
	}
}

// kid returns the index of the child whose label starts with b, or the
// index where such a child would be inserted.
func (n *node[V]) kid(b byte) (int, bool) {
	lo, hi := 0, len(n.kids)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n.kids[m].label[0] < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(n.kids) && n.kids[lo].label[0] == b
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
