package manifest

import (
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// kubectl reads manifests with sigs.k8s.io/yaml: go-yaml v2 decodes each
// document into Go values by the rules of YAML 1.1, the values are turned
// into JSON (keys into strings) and the API server decodes that JSON. The
// functions of this file give a scalar the value it has at the end of that
// chain, so that the loader reads every key and value as kubectl apply
// sends it. The parse tree itself comes from go-yaml v3 (for its
// positions); only the reading of scalars follows v2.

// Short forms of the YAML tags a scalar may carry.
const (
	tagStr       = "!!str"
	tagBool      = "!!bool"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagNull      = "!!null"
	tagTimestamp = "!!timestamp"
	tagBinary    = "!!binary"
	tagMerge     = "!!merge"
)

// quotedOrBlock are the styles of scalars that are strings unless tagged.
const quotedOrBlock = yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle

// yamlFloat is the shape of a decimal floating-point number in YAML 1.1
// (after underscores are removed).
var yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// readScalar returns what a scalar node holds as kubectl reads it: nil, a
// bool, an int64, a uint64 (integers above math.MaxInt64), a float64 or a
// string (!!binary scalars decoded, timestamps as written).
func readScalar(n *yaml.Node) (any, error) {
	tag := ""
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		tag = n.Tag
	case n.Style&quotedOrBlock != 0:
		return n.Value, nil
	}
	switch tag {
	case "", tagStr, tagBool, tagInt, tagFloat, tagNull, tagTimestamp:
	case tagBinary:
		// Line breaks are ignored, as base64 decoding ignores them.
		b, err := base64.StdEncoding.DecodeString(n.Value)
		if err != nil {
			return nil, &yamlError{n, "!!binary value contains invalid base64 data"}
		}
		return string(b), nil
	default:
		// Other tags, local ones included, leave the text a string.
		return n.Value, nil
	}
	got, v := resolve11(n.Value, tag == "" || tag == tagTimestamp)
	switch {
	case tag == "" || tag == got || tag == tagStr:
	case tag == tagFloat && got == tagInt:
		switch x := v.(type) {
		case int64:
			v = float64(x)
		case uint64:
			v = float64(x)
		}
	default:
		return nil, &yamlError{n, fmt.Sprintf("cannot decode %s `%s` as a %s", got, n.Value, tag)}
	}
	if tag == tagStr {
		return n.Value, nil
	}
	if got == tagTimestamp {
		// Read into an untyped value, a timestamp stays the text written.
		return n.Value, nil
	}
	return v, nil
}

// resolve11 resolves a plain scalar by the rules of YAML 1.1 as go-yaml v2
// implements them: the booleans y/yes/on/true and n/no/off/false in three
// capitalisations, null and ~, integers in any base Go's ParseInt accepts
// with underscores ignored (so 0755 is octal), decimal floats, .inf and
// .nan, and, when timestamps is set, dates. It returns the tag and value.
func resolve11(s string, timestamps bool) (string, any) {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return tagBool, true
	case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return tagBool, false
	case "", "~", "null", "Null", "NULL":
		return tagNull, nil
	case ".nan", ".NaN", ".NAN":
		return tagFloat, math.NaN()
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return tagFloat, math.Inf(1)
	case "-.inf", "-.Inf", "-.INF":
		return tagFloat, math.Inf(-1)
	}
	switch c := s[0]; {
	case c == '.':
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return tagFloat, f
		}
	case c == '+' || c == '-' || ('0' <= c && c <= '9'):
		if timestamps && isTimestamp(s) {
			return tagTimestamp, s
		}
		plain := strings.ReplaceAll(s, "_", "")
		if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return tagInt, i
		}
		if u, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return tagInt, u
		}
		if yamlFloat.MatchString(plain) {
			if f, err := strconv.ParseFloat(plain, 64); err == nil {
				return tagFloat, f
			}
		}
		if digits, ok := strings.CutPrefix(plain, "0b"); ok {
			if i, err := strconv.ParseInt(digits, 2, 64); err == nil {
				return tagInt, i
			}
			if u, err := strconv.ParseUint(digits, 2, 64); err == nil {
				return tagInt, u
			}
		} else if digits, ok := strings.CutPrefix(plain, "-0b"); ok {
			if i, err := strconv.ParseInt("-"+digits, 2, 64); err == nil {
				return tagInt, i
			}
		}
	}
	return tagStr, s
}

// timestampLayouts are the timestamp forms go-yaml v2 recognises.
var timestampLayouts = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

// isTimestamp reports whether s is a YAML timestamp: four digits, a dash,
// and one of timestampLayouts.
func isTimestamp(s string) bool {
	if len(s) < 5 || s[4] != '-' {
		return false
	}
	for i := range 4 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	for _, layout := range timestampLayouts {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// jsonValue returns the value the API server decodes from the JSON that
// kubectl writes for a scalar: strings with each invalid UTF-8 byte
// replaced by U+FFFD (as encoding/json writes them), numbers written
// without a "." that fit an int64 as int64 and other numbers as float64.
// NaN and infinities have no JSON form.
func jsonValue(n *yaml.Node, v any) (any, error) {
	switch x := v.(type) {
	case string:
		if utf8.ValidString(x) {
			return v, nil // without boxing the string again
		}
		return validUTF8(x), nil
	case uint64:
		return float64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, &yamlError{n, fmt.Sprintf("%s cannot be represented in JSON", n.Value)}
		}
		// The text encoding/json writes, read back as the API server
		// reads numbers: an integer when it has no "." and fits.
		format := byte('f')
		if abs := math.Abs(x); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
		text := strconv.FormatFloat(x, format, -1, 64)
		if !strings.Contains(text, ".") {
			if i, err := strconv.ParseInt(text, 10, 64); err == nil {
				return i, nil
			}
		}
		return x, nil
	default:
		return v, nil
	}
}

// jsonKey returns the JSON key kubectl writes for a mapping key read as v:
// strings as they are, integers in decimal, floats in the shortest form
// that round-trips a float32, booleans as true or false. Null keys and
// integers above math.MaxInt64 have none.
func jsonKey(n *yaml.Node, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return validUTF8(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return ".nan", nil
		case math.IsInf(x, 1):
			return ".inf", nil
		case math.IsInf(x, -1):
			return "-.inf", nil
		}
		return strconv.FormatFloat(x, 'g', -1, 32), nil
	case nil:
		return "", &yamlError{n, "a mapping key cannot be null"}
	default:
		return "", &yamlError{n, fmt.Sprintf("mapping key %s cannot be a JSON key", n.Value)}
	}
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, as encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
