package manifest

import (
	"bytes"
	"fmt"
	"math"
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

// splitDocuments cuts a YAML stream into documents at lines that start
// with "---", as kubectl does, so that a syntax error in one document does
// not hide the others. Every document keeps its position in the file.
func splitDocuments(data []byte) (docs [][]byte, starts []int) {
	line, start, startLine := 1, 0, 1
	for i := 0; i <= len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		next := len(data) + 1
		if end >= 0 {
			end += i
			next = end + 1
		} else {
			end = len(data)
		}
		l := data[i:end]
		if isSeparator(l) && i > start {
			docs = append(docs, data[start:i])
			starts = append(starts, startLine)
			start, startLine = i, line
		}
		i = next
		line++
	}
	if start < len(data) {
		docs = append(docs, data[start:])
		starts = append(starts, startLine)
	}
	return docs, starts
}

// isSeparator reports whether a line is a document separator: "---" alone
// or followed by white space.
func isSeparator(l []byte) bool {
	if !bytes.HasPrefix(l, []byte("---")) {
		return false
	}
	return len(l) == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r'
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

// yaml11Bools are the plain scalars that YAML 1.1 reads as booleans and
// YAML 1.2 as strings. kubectl reads manifests as YAML 1.1, so a header
// value written "on" reaches the API server as true: the loader does the
// same, so that it reports what kubectl apply would.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false,
	"off": false, "Off": false, "OFF": false,
}

func (c *converter) value(n *yaml.Node, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &yamlError{n, fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	c.budget--
	if c.budget < 0 {
		return nil, &yamlError{n, "aliases expand to too many nodes"}
	}
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
		return c.scalar(n)
	case yaml.SequenceNode:
		if n.Tag != "!!seq" {
			return nil, &yamlError{n, fmt.Sprintf("unsupported YAML tag %s", n.Tag)}
		}
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
		if n.Tag != "!!map" {
			return nil, &yamlError{n, fmt.Sprintf("unsupported YAML tag %s", n.Tag)}
		}
		out := map[string]any{}
		keys := map[string]*yaml.Node{}
		if err := c.mapping(n, out, keys, depth, false); err != nil {
			return nil, err
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

// mapping adds the pairs of a mapping node to out. Keys written in the
// mapping itself must be unique; keys merged in with "<<" only fill in
// what the mapping does not set, as YAML merge keys do.
func (c *converter) mapping(n *yaml.Node, out map[string]any, keys map[string]*yaml.Node, depth int, merged bool) error {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key, err := keyString(k)
		if err != nil {
			return err
		}
		if prev, ok := keys[key]; ok {
			if merged {
				continue
			}
			return &yamlError{k, fmt.Sprintf("mapping key %q already defined at line %d", key, prev.Line)}
		}
		keys[key] = k
		val, err := c.value(v, depth+1)
		if err != nil {
			return err
		}
		out[key] = val
	}
	for _, m := range merges {
		if err := c.merge(m, out, keys, depth); err != nil {
			return err
		}
	}
	return nil
}

func (c *converter) merge(m *yaml.Node, out map[string]any, keys map[string]*yaml.Node, depth int) error {
	if depth > maxDepth {
		return &yamlError{m, fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	c.budget--
	if c.budget < 0 {
		return &yamlError{m, "aliases expand to too many nodes"}
	}
	switch m.Kind {
	case yaml.AliasNode:
		if m.Alias == nil {
			return &yamlError{m, "unknown alias"}
		}
		return c.merge(m.Alias, out, keys, depth+1)
	case yaml.MappingNode:
		return c.mapping(m, out, keys, depth+1, true)
	case yaml.SequenceNode:
		for _, item := range m.Content {
			if item.Kind == yaml.SequenceNode {
				return &yamlError{item, "a merge key takes a mapping or a list of mappings"}
			}
			if err := c.merge(item, out, keys, depth+1); err != nil {
				return err
			}
		}
		return nil
	default:
		return &yamlError{m, "a merge key takes a mapping or a list of mappings"}
	}
}

// keyString returns the text of a mapping key. JSON keys are strings, so a
// key written as a number or boolean is taken as written.
func keyString(k *yaml.Node) (string, error) {
	for k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return "", &yamlError{k, "mapping keys must be scalars"}
	}
	if k.Tag == "!!null" {
		return "null", nil
	}
	return k.Value, nil
}

func (c *converter) scalar(n *yaml.Node) (any, error) {
	switch n.Tag {
	case "!!str", "!!timestamp":
		if n.Style == 0 && n.Tag == "!!str" {
			if b, ok := yaml11Bools[n.Value]; ok {
				return b, nil
			}
		}
		return n.Value, nil
	case "!!binary":
		// Base64 text, which is how JSON carries []byte.
		return strings.Join(strings.Fields(n.Value), ""), nil
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, &yamlError{n, fmt.Sprintf("invalid boolean %q", n.Value)}
		}
		return b, nil
	case "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, &yamlError{n, fmt.Sprintf("invalid integer %q", n.Value)}
		}
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case uint64:
			if x <= math.MaxInt64 {
				return int64(x), nil
			}
			return float64(x), nil
		case float64:
			return x, nil
		default:
			return nil, &yamlError{n, fmt.Sprintf("invalid integer %q", n.Value)}
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, &yamlError{n, fmt.Sprintf("invalid number %q", n.Value)}
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, &yamlError{n, fmt.Sprintf("%s cannot be represented in JSON", n.Value)}
		}
		// Whole numbers written as floats ("8000.0") are integers in
		// JSON terms, as the API server's decoder reads them.
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
		return f, nil
	default:
		return nil, &yamlError{n, fmt.Sprintf("unsupported YAML tag %s", n.Tag)}
	}
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
			k, v := mappingPair(cur, seg, 0)
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

// mappingPair returns the key and value nodes of key in a mapping,
// looking into merged mappings ("<<") when the mapping does not set it.
func mappingPair(m *yaml.Node, key string, depth int) (k, v *yaml.Node) {
	if depth > maxDepth {
		return nil, nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn := m.Content[i]
		if kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge" {
			merges = append(merges, m.Content[i+1])
			continue
		}
		if s, err := keyString(kn); err == nil && s == key {
			return kn, m.Content[i+1]
		}
	}
	for _, mg := range merges {
		mg = unalias(mg)
		if mg == nil {
			continue
		}
		candidates := []*yaml.Node{mg}
		if mg.Kind == yaml.SequenceNode {
			candidates = mg.Content
		}
		for _, c := range candidates {
			c = unalias(c)
			if c == nil || c.Kind != yaml.MappingNode {
				continue
			}
			if k, v := mappingPair(c, key, depth+1); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}
