package manifest

import (
	"bytes"
	"fmt"
	"iter"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Limits that keep hostile input from exhausting the loader. Kubernetes
// objects nest a few dozen levels at most; an alias that expands past the
// budget is a "billion laughs" document, not a manifest.
const (
	maxDepth = 100
	// maxExpansion bounds the number of nodes a document may expand to
	// through aliases, as a multiple of the nodes it is written with
	// (plus a fixed allowance for small documents with a few anchors).
	maxExpansionFactor = 10
	maxExpansionBase   = 10000
	// maxSyntaxSearch bounds the bytes reparsed to find the line of a
	// syntax error (see syntaxLine).
	maxSyntaxSearch = 16 << 20
)

// document is one YAML document of a manifest file.
type document struct {
	file  string
	index int        // 1-based among the file's non-empty documents
	root  *yaml.Node // the top-level node, its lines those of the file
}

// A chunk is the text of one document of a stream.
type chunk struct {
	text []byte
	// line is the line of the file the text starts on.
	line int
	// blank is set when the text has nothing but separators, document
	// end markers, comments and white space: an empty document, which
	// kubectl skips and the loader does not parse.
	blank bool
}

// splitDocuments cuts a YAML stream into documents at lines that start
// with "---", as kubectl does, so that a syntax error in one document does
// not hide the others. Every document keeps its position in the file. It
// scans each byte once.
func splitDocuments(data []byte) iter.Seq[chunk] {
	return func(yield func(chunk) bool) {
		line, start, startLine, blank := 1, 0, 1, true
		for i := 0; i < len(data); line++ {
			end := bytes.IndexByte(data[i:], '\n')
			next := len(data)
			if end >= 0 {
				end += i
				next = end + 1
			} else {
				end = len(data)
			}
			l := data[i:end]
			if len(l) >= 3 && l[0] == '-' && isSeparator(l) && i > start {
				if !yield(chunk{data[start:i], startLine, blank}) {
					return
				}
				start, startLine, blank = i, line, true
			}
			blank = blank && blankLine(l)
			i = next
		}
		if start < len(data) {
			yield(chunk{data[start:], startLine, blank})
		}
	}
}

// isSeparator reports whether a line is a document separator: "---" alone
// or followed by white space.
func isSeparator(l []byte) bool {
	if !bytes.HasPrefix(l, []byte("---")) {
		return false
	}
	return len(l) == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r'
}

// blankLine reports whether a line holds no content: white space, a
// comment, or a separator or document end marker with nothing but those
// after it.
func blankLine(l []byte) bool {
	if bytes.HasPrefix(l, []byte("---")) || bytes.HasPrefix(l, []byte("...")) {
		if len(l) > 3 && l[3] != ' ' && l[3] != '\t' && l[3] != '\r' {
			return false
		}
		l = l[3:]
	}
	for _, c := range l {
		switch c {
		case ' ', '\t', '\r':
		case '#':
			// A comment starts at the line's start or after white space.
			return true
		default:
			return false
		}
	}
	return true
}

// parseDocument parses the text of one document. It returns a nil root for
// a document with nothing but comments and separators.
func parseDocument(text []byte) (root *yaml.Node, err error) {
	defer func() {
		if p := recover(); p != nil {
			root, err = nil, fmt.Errorf("yaml: %v", p)
		}
	}()
	var n yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(text))
	if err := dec.Decode(&n); err != nil {
		if err.Error() == "EOF" {
			return nil, nil
		}
		return nil, err
	}
	// A second document here means a separator the splitter did not see,
	// such as "..." followed by more content.
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("yaml: line %d: more than one document; separate documents with a line \"---\"", extra.Line)
	} else if err.Error() != "EOF" {
		return nil, err
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
		return nil, nil
	}
	return n.Content[0], nil
}

var syntaxErrorRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntaxError turns a parser error into a position and a message. The
// parser reports the line where the enclosing block started (the
// "context"), not the line with the problem; syntaxLine finds the latter.
func syntaxError(text []byte, err error) (line, col int, msg string) {
	m := syntaxErrorRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, 0, err.Error()
	}
	msg = m[2]
	context, _ := strconv.Atoi(m[1])
	line = syntaxLine(text, context, err.Error())
	if line == 0 {
		line = context
	}
	if line > 0 {
		col = firstColumn(text, line)
	}
	return line, col, msg
}

// syntaxLine returns the first line L at or after context such that the
// document's first L lines fail to parse with the same error as the whole
// document: the parser stops at the first token it cannot accept, so that
// is the line of the problem. It returns 0 when the search would reparse
// more than maxSyntaxSearch bytes.
func syntaxLine(text []byte, context int, full string) int {
	lines := bytes.SplitAfter(text, []byte("\n"))
	if context < 1 {
		context = 1
	}
	budget := maxSyntaxSearch
	size := 0
	for i := 0; i < context-1 && i < len(lines); i++ {
		size += len(lines[i])
	}
	for l := context; l <= len(lines); l++ {
		size += len(lines[l-1])
		budget -= size
		if budget < 0 {
			return 0
		}
		_, err := parseDocument(text[:size])
		if err == nil {
			continue
		}
		if err.Error() == full {
			return l
		}
	}
	return 0
}

// firstColumn returns the 1-based column of the first character of a line
// that is not a space, or 1.
func firstColumn(text []byte, line int) int {
	lines := bytes.Split(text, []byte("\n"))
	if line < 1 || line > len(lines) {
		return 1
	}
	l := lines[line-1]
	for i, c := range l {
		if c != ' ' {
			return i + 1
		}
	}
	return 1
}

// shiftLines adds off to the line of every node, so that nodes of a
// document parsed on its own carry their lines in the file.
func shiftLines(n *yaml.Node, off int, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	n.Line += off
	for _, c := range n.Content {
		shiftLines(c, off, seen)
	}
	// Alias targets are anchored nodes elsewhere in the same tree, shifted
	// when the walk reaches them.
}

// yamlError is a problem with the YAML of a document, before any object is
// known: an error of the converter below.
type yamlError struct {
	node *yaml.Node
	msg  string
}

func (e *yamlError) Error() string { return e.msg }

// converter turns a YAML node tree into the values encoding/json would
// produce from the equivalent JSON (map[string]any, []any, string, bool,
// nil, and int64 or float64 for numbers: integers stay int64, as the API
// server's decoder and CEL want them).
type converter struct {
	budget int
}

func newConverter(root *yaml.Node) *converter {
	return &converter{budget: maxExpansionBase + maxExpansionFactor*countNodes(root, 0)}
}

func countNodes(n *yaml.Node, depth int) int {
	if n == nil || depth > maxDepth {
		return 0
	}
	c := 1
	for _, k := range n.Content {
		c += countNodes(k, depth+1)
	}
	return c
}

func (c *converter) value(n *yaml.Node, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &yamlError{n, fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	c.budget--
	if c.budget < 0 {
		return nil, &yamlError{n, "aliases expand to too many nodes"}
	}
	// Tags on sequences and mappings are ignored, as kubectl ignores them.
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, &yamlError{n, "unknown alias"}
		}
		v, err := c.value(n.Alias, depth+1)
		if ye, ok := err.(*yamlError); ok && c.budget < 0 {
			// Blame the outermost alias of the expansion.
			ye.node = n
		}
		return v, err
	case yaml.ScalarNode:
		v, err := readScalar(n)
		if err != nil {
			return nil, err
		}
		return jsonValue(n, v)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			v, err := c.value(item, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		ps, err := c.pairs(n, depth)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(ps.list))
		for _, p := range ps.list {
			v, err := c.value(p.v, depth+1)
			if err != nil {
				return nil, err
			}
			out[p.key] = v
		}
		return out, nil
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], depth+1)
	default:
		return nil, &yamlError{n, "unsupported YAML node"}
	}
}

// pair is one entry of a mapping as kubectl reads it: the key as a JSON
// key, and the nodes of the key and value that stand for it.
type pair struct {
	key  string
	k, v *yaml.Node
	// written is the key's node when the mapping itself writes the key
	// (rather than merging it in), to tell a key written twice.
	written *yaml.Node
}

// pairList is the entries of a mapping in order, a later entry with the
// same key replacing an earlier one in place. Small mappings, most of
// them, are searched; large ones indexed.
type pairList struct {
	list  []pair
	index map[string]int
}

// indexFrom is the size from which a pairList indexes its keys.
const indexFrom = 16

// find returns the index of key, -1 when absent.
func (l *pairList) find(key string) int {
	if l.index != nil {
		if i, ok := l.index[key]; ok {
			return i
		}
		return -1
	}
	for i := range l.list {
		if l.list[i].key == key {
			return i
		}
	}
	return -1
}

// set adds p, or replaces the entry of its key, keeping whether the
// mapping writes the key.
func (l *pairList) set(p pair) {
	if i := l.find(p.key); i >= 0 {
		if p.written == nil {
			p.written = l.list[i].written
		}
		l.list[i] = p
		return
	}
	l.list = append(l.list, p)
	switch {
	case l.index != nil:
		l.index[p.key] = len(l.list) - 1
	case len(l.list) >= indexFrom:
		l.index = make(map[string]int, 2*len(l.list))
		for i := range l.list {
			l.index[l.list[i].key] = i
		}
	}
}

// pairs returns the entries of a mapping as kubectl reads them: entries
// are applied in the order written, a merge key ("<<") applying the
// entries of its mapping (or of its list of mappings, the first one
// winning) where it stands, so that what comes later wins, as go-yaml v2
// merges. A key written twice in the mapping itself is an error (kubectl
// silently keeps the last one).
func (c *converter) pairs(m *yaml.Node, depth int) (pairList, error) {
	if depth > maxDepth {
		return pairList{}, &yamlError{m, fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	ps := pairList{list: make([]pair, 0, len(m.Content)/2)}
	for i := 0; i+1 < len(m.Content); i += 2 {
		c.budget--
		if c.budget < 0 {
			return pairList{}, &yamlError{m, "aliases expand to too many nodes"}
		}
		k, v := m.Content[i], m.Content[i+1]
		if isMerge(k) {
			if err := c.merge(&ps, v, depth+1); err != nil {
				return pairList{}, err
			}
			continue
		}
		key, err := c.key(k)
		if err != nil {
			return pairList{}, err
		}
		if j := ps.find(key); j >= 0 && ps.list[j].written != nil {
			return pairList{}, &yamlError{k, fmt.Sprintf("mapping key %s already defined at line %d", describeKey(key, k), ps.list[j].written.Line)}
		}
		ps.set(pair{key: key, k: k, v: v, written: k})
	}
	return ps, nil
}

// merge applies the value of a merge key to ps.
func (c *converter) merge(ps *pairList, v *yaml.Node, depth int) error {
	if depth > maxDepth {
		return &yamlError{v, fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	apply := func(n *yaml.Node) error {
		target := n
		if n.Kind == yaml.AliasNode {
			target = n.Alias
		}
		if target == nil || target.Kind != yaml.MappingNode {
			return &yamlError{n, "a merge key takes a mapping or a list of mappings"}
		}
		merged, err := c.pairs(target, depth+1)
		if err != nil {
			return err
		}
		for _, p := range merged.list {
			p.written = nil
			ps.set(p)
		}
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		return apply(v)
	}
	// Backwards, so that the first mapping of the list wins.
	for i := len(v.Content) - 1; i >= 0; i-- {
		if err := apply(v.Content[i]); err != nil {
			return err
		}
	}
	return nil
}

// isMerge reports whether a mapping key is the merge key "<<".
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Tag == tagMerge && k.Value == "<<"
}

// key returns the JSON key kubectl makes of a mapping key.
func (c *converter) key(written *yaml.Node) (string, error) {
	k := unalias(written)
	if k == nil {
		return "", &yamlError{written, "unknown alias"}
	}
	if k.Kind != yaml.ScalarNode {
		return "", &yamlError{k, "mapping keys must be scalars"}
	}
	v, err := readScalar(k)
	if err != nil {
		return "", err
	}
	return jsonKey(k, v)
}

// describeKey names a key in a message, with its text when kubectl reads
// it as something else ("on" is the key "true").
func describeKey(key string, k *yaml.Node) string {
	if k.Value != key {
		return fmt.Sprintf("%q (%s)", key, k.Value)
	}
	return fmt.Sprintf("%q", key)
}

// lookup finds the node at a field path ("spec.rules[2].matches[0]",
// "metadata.labels[app]") below root: for a field, the node of its key,
// which is on the line where the field is written; for a list item, the
// item. It returns the deepest node the path reaches and whether that is
// the end of the path.
func lookup(root *yaml.Node, path string) (*yaml.Node, bool) {
	pos, cur := root, root
	rest := path
	for rest != "" {
		var seg string
		var bracket bool
		switch rest[0] {
		case '.':
			rest = rest[1:]
			continue
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return pos, false
			}
			seg, rest, bracket = rest[1:end], rest[end+1:], true
		default:
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			seg, rest = rest[:end], rest[end:]
		}
		cur = unalias(cur)
		if cur == nil {
			return pos, false
		}
		switch cur.Kind {
		case yaml.SequenceNode:
			i, err := strconv.Atoi(seg)
			if !bracket || err != nil || i < 0 || i >= len(cur.Content) {
				return pos, false
			}
			pos, cur = cur.Content[i], cur.Content[i]
		case yaml.MappingNode:
			k, v := mappingPair(cur, seg)
			if k == nil {
				return pos, false
			}
			pos, cur = k, v
		default:
			return pos, false
		}
	}
	return pos, true
}

// unalias follows aliases to the node they name.
func unalias(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > maxDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

// mappingPair returns the nodes of the entry of a mapping that kubectl
// reads as key, nil when there is none.
func mappingPair(m *yaml.Node, key string) (k, v *yaml.Node) {
	c := newConverter(m)
	ps, err := c.pairs(m, 0)
	if err != nil {
		return nil, nil
	}
	if i := ps.find(key); i >= 0 {
		return ps.list[i].k, ps.list[i].v
	}
	return nil, nil
}
