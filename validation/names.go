package validation

import (
	"crypto/sha256"
)

// nameAlphabet is the alphabet of the characters the API server appends
// to a generateName (k8s.io/apimachinery/pkg/util/rand: no vowels, no
// digits that look like letters).
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// Lengths of generated names: the API server cuts generateName so that
// the name, with five characters appended, is at most 63 long.
const (
	generatedSuffix   = 5
	maxGeneratePrefix = 63 - generatedSuffix
)

// GenerateName returns the name the API server gives an object created
// with metadata.generateName set to base and no name: base, cut to 58
// bytes, followed by five characters. The API server draws them at random;
// GenerateName derives them from seed, so that the same object gets the
// same name every time it is loaded.
func GenerateName(base string, seed []byte) string {
	if len(base) > maxGeneratePrefix {
		base = base[:maxGeneratePrefix]
	}
	sum := sha256.Sum256(seed)
	b := make([]byte, 0, len(base)+generatedSuffix)
	b = append(b, base...)
	for _, c := range sum[:generatedSuffix] {
		b = append(b, nameAlphabet[int(c)%len(nameAlphabet)])
	}
	return string(b)
}

// NameGenerated gives an object's JSON content (as in an
// unstructured.Unstructured) the name GenerateName derives from seed when
// it has a metadata.generateName and no name, as the API server names such
// an object before validating it. It returns the name it gave, "" when it
// gave none. A generateName that is not a string is left for validation
// to report.
func NameGenerated(obj map[string]any, seed []byte) string {
	md, _ := obj["metadata"].(map[string]any)
	base, _ := md["generateName"].(string)
	if base == "" {
		return ""
	}
	if name, set := md["name"]; set && name != nil && name != "" {
		return ""
	}
	name := GenerateName(base, seed)
	md["name"] = name
	return name
}
