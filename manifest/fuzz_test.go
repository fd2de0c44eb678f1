package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/httproute/httproute"
)

// FuzzDecode feeds arbitrary bytes to the loader: it must neither panic
// nor hang (nesting and alias expansion are bounded), and every problem it
// reports must name its file and a line.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range append(files, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(route + "---\n" + route))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("a: &a {<<: *a}\n"))
	f.Add([]byte("<<: [{a: 1}, [b]]\n"))
	f.Add([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: !!binary aGk=}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		m, err := Decode(Options{Extensions: kgateway, Validator: standard}, "fuzz.yaml", strings.NewReader(string(data)))
		if m == nil {
			t.Fatal("nil Manifests")
		}
		checkPositions(t, err)
		m.Locate(err)
	})
}

// checkPositions fails when a problem has no file or line.
func checkPositions(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var de *DocumentError
		var he *httproute.Error
		switch {
		case errors.As(e, &de):
			if de.File != "fuzz.yaml" {
				t.Errorf("no file: %v", e)
			}
		case errors.As(e, &he):
			if he.File != "fuzz.yaml" || he.Line == 0 {
				t.Errorf("no position: %v", e)
			}
		default:
			t.Errorf("unexpected error type %T: %v", e, e)
		}
	}
}
