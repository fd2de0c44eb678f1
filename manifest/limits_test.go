package manifest

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestEmptyDocumentsCostNothing checks that empty documents ("---" lines,
// comments, an explicit null) are skipped without an error and without
// being parsed: the allocations of a decode do not grow with their number.
func TestEmptyDocumentsCostNothing(t *testing.T) {
	for _, in := range []string{"---\n", "--- # c\n\n# only a comment\n", "---\n...\n", "---\nnull\n", "---\r\n  \t\r\n"} {
		if _, err := Decode(Options{NoValidation: true}, "in.yaml", strings.NewReader(strings.Repeat(in, 3)+"---\n"+route)); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
	allocs := func(n int) float64 {
		data := bytes.Repeat([]byte("---\n# c\n"), n)
		return testing.AllocsPerRun(5, func() {
			if _, err := Decode(Options{NoValidation: true}, "in.yaml", bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		})
	}
	if few, many := allocs(10), allocs(10_000); many > few+5 {
		t.Errorf("decoding 10 empty documents allocates %v times, 10,000 %v times: empty documents must cost next to nothing", few, many)
	}
}

// endless is a reader of an endless stream of one line.
type endless struct{ line []byte }

func (e endless) Read(p []byte) (int, error) {
	n := 0
	for n+len(e.line) <= len(p) {
		n += copy(p[n:], e.line)
	}
	if n == 0 {
		n = copy(p, e.line)
	}
	return n, nil
}

func TestLimits(t *testing.T) {
	two := route + "---\n" + strings.ReplaceAll(route, "web", "web2")
	tests := []struct {
		name   string
		opts   Options
		in     io.Reader
		want   []string
		routes int
	}{{
		name:   "defaults load a real configuration",
		in:     strings.NewReader(two),
		routes: 2,
	}, {
		name: "an endless stream stops at MaxBytes",
		opts: Options{MaxBytes: 1 << 20},
		in:   endless{[]byte("---\n")},
		want: []string{"manifest: limit reached: in.yaml: the manifests are larger than Options.MaxBytes (1048576 bytes); raise it to load them"},
	}, {
		name: "MaxBytes counts bytes, empty documents included",
		opts: Options{MaxBytes: int64(len(two) - 1)},
		in:   strings.NewReader(two),
		want: []string{"manifest: limit reached: in.yaml: the manifests are larger than Options.MaxBytes (" + itoa(len(two)-1) + " bytes); raise it to load them"},
	}, {
		name:   "MaxBytes at the size",
		opts:   Options{MaxBytes: int64(len(two))},
		in:     strings.NewReader(two),
		routes: 2,
	}, {
		name:   "MaxDocuments counts documents with content",
		opts:   Options{MaxDocuments: 1},
		in:     strings.NewReader("---\n---\n" + two),
		want:   []string{"manifest: limit reached: in.yaml:7: more documents than Options.MaxDocuments (1); raise it to load them"},
		routes: 1,
	}, {
		name:   "a bound of math.MaxInt64",
		opts:   Options{MaxBytes: math.MaxInt64},
		in:     strings.NewReader(two),
		routes: 2,
	}, {
		name:   "negative limits: none",
		opts:   Options{MaxBytes: -1, MaxDocuments: -1},
		in:     strings.NewReader(two),
		routes: 2,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.NoValidation = true
			m, err := Decode(tt.opts, "in.yaml", tt.in)
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if tt.want != nil && !errors.Is(err, ErrLimit) {
				t.Errorf("error %v does not wrap ErrLimit", err)
			}
			if len(m.Config.HTTPRoutes) != tt.routes {
				t.Errorf("%d routes, want %d", len(m.Config.HTTPRoutes), tt.routes)
			}
		})
	}
}

// TestLimitsAcrossFiles checks that the limits bound a whole Load: reading
// stops at the file that passes them.
func TestLimitsAcrossFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"a.yaml": {Data: []byte(strings.ReplaceAll(route, "web", "a"))},
		"b.yaml": {Data: []byte(strings.ReplaceAll(route, "web", "b"))},
		"c.yaml": {Data: []byte(strings.ReplaceAll(route, "web", "c"))},
	}
	m, err := LoadFS(Options{NoValidation: true, MaxDocuments: 2}, fsys, ".")
	want := []string{"manifest: limit reached: c.yaml:1: more documents than Options.MaxDocuments (2); raise it to load them"}
	if diff := cmp.Diff(want, errorLines(err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if len(m.Config.HTTPRoutes) != 2 {
		t.Errorf("%d routes, want 2", len(m.Config.HTTPRoutes))
	}
	size := len(fsys["a.yaml"].Data) + len(fsys["b.yaml"].Data)
	_, err = LoadFS(Options{NoValidation: true, MaxBytes: int64(size)}, fsys, ".")
	want = []string{"manifest: limit reached: c.yaml: the manifests are larger than Options.MaxBytes (" + itoa(size) + " bytes); raise it to load them"}
	if diff := cmp.Diff(want, errorLines(err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// TestLoadFS loads a configuration from an fs.FS, as an embedded one is
// loaded: directories recursively in lexical order, hidden names skipped,
// errors naming files by their path in the file system.
func TestLoadFS(t *testing.T) {
	fsys := fstest.MapFS{
		"config/b.yaml":          {Data: []byte(strings.ReplaceAll(route, "web", "b"))},
		"config/a.yml":           {Data: []byte(strings.ReplaceAll(route, "web", "a"))},
		"config/sub/c.yaml":      {Data: []byte(strings.ReplaceAll(route, "web", "c"))},
		"config/notes.txt":       {Data: []byte("not yaml: [")},
		"config/.hidden/d.yaml":  {Data: []byte("not yaml: [")},
		"config/sub/broken.yaml": {Data: []byte(route + "spec: {hostnames: [}\n")},
		"other.yaml":             {Data: []byte(strings.ReplaceAll(route, "web", "e"))},
	}
	m, err := LoadFS(Options{NoValidation: true}, fsys, "config", "other.yaml", "missing.yaml")
	var names []string
	for _, r := range m.Config.HTTPRoutes {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "e"}, names); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	want := []string{
		"config/sub/broken.yaml:5:1: document 1: did not find expected node content",
		"open missing.yaml: file does not exist",
	}
	if diff := cmp.Diff(want, errorLines(err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestExtensionsRegisteredOnce checks that the Extensions of Options are
// those of the Config the loader returns, so that a Router built from it
// serves them without a second registration.
func TestExtensionsRegisteredOnce(t *testing.T) {
	m, err := Decode(Options{Extensions: kgateway, NoValidation: true}, "in.yaml", strings.NewReader(route))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range m.Config.Extensions {
		got = append(got, e.Kind.String())
	}
	var want []string
	for _, e := range kgateway {
		want = append(want, e.Kind.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Config.Extensions (-want +got):\n%s", diff)
	}
}
