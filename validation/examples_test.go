package validation_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute/validation"
)

var update = flag.Bool("update", false, "rewrite the golden files of the tests")

// validators are shared by the tests of the package: compiling the CRDs'
// CEL rules is the expensive part of validation.
var validators = map[validation.Channel]*validation.Validator{
	validation.Standard:     validation.New(validation.Standard),
	validation.Experimental: validation.New(validation.Experimental),
}

// gatewayAPIDir returns the directory of the gateway-api module in the
// module cache, where its examples are.
func gatewayAPIDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("locating the gateway-api module: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatal("the gateway-api module is not in the module cache; run go mod download")
	}
	return dir
}

// readDocuments reads a YAML stream as kubectl does: split at "---" lines,
// each document converted from YAML 1.1 to JSON, numbers kept as int64.
func readDocuments(data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if string(bytes.TrimSpace(j)) == "null" {
			continue
		}
		var obj map[string]any
		if err := kjson.UnmarshalCaseSensitivePreserveInts(j, &obj); err != nil {
			return nil, err
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

// validateFile validates every document of a file and returns the
// problems, one line each, prefixed with the document's kind and name.
func validateFile(t *testing.T, v *validation.Validator, path string) (docs int, problems []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := readDocuments(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		id := fmt.Sprintf("%s %s", gvk.Kind, u.GetName())
		_, served := v.Scope(gvk)
		if !served && gvk.Group != "" {
			// What the API server answers for a kind without a CRD.
			problems = append(problems, fmt.Sprintf("%s: no matches for kind %q in version %q", id, gvk.Kind, gvk.GroupVersion()))
			continue
		}
		for _, fe := range v.Validate(u) {
			problems = append(problems, id+": "+fe.Error())
		}
	}
	return len(objs), problems
}

// yamlFiles lists the YAML files under a directory, sorted.
func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// channelDirs are the folders of the gateway-api module whose documents a
// channel must accept (examples) and reject (invalid examples). The
// experimental channel is a superset of the standard one, so it must also
// accept the standard examples and reject the standard invalid ones.
func channelDirs(ch validation.Channel) []string {
	if ch == validation.Standard {
		return []string{"standard"}
	}
	return []string{"standard", "experimental"}
}

// TestExamples validates every document of the gateway-api module's
// examples: all are accepted, of every kind the CRDs define (core
// Namespaces get the metadata checks).
func TestExamples(t *testing.T) {
	root := gatewayAPIDir(t)
	for _, ch := range []validation.Channel{validation.Standard, validation.Experimental} {
		t.Run(ch.String(), func(t *testing.T) {
			files, docs := 0, 0
			for _, sub := range channelDirs(ch) {
				for _, f := range yamlFiles(t, filepath.Join(root, "examples", sub)) {
					n, problems := validateFile(t, validators[ch], f)
					files++
					docs += n
					for _, p := range problems {
						t.Errorf("%s: %s", strings.TrimPrefix(f, root+"/"), p)
					}
				}
			}
			t.Logf("%s channel: %d example files, %d documents accepted", ch, files, docs)
			if files < 40 {
				t.Errorf("only %d example files found", files)
			}
		})
	}
}

// TestInvalidExamples validates every file of the gateway-api module's
// hack/invalid-examples: each is rejected. The problems are compared with
// a golden file, so that a change in any message is seen.
func TestInvalidExamples(t *testing.T) {
	root := gatewayAPIDir(t)
	for _, ch := range []validation.Channel{validation.Standard, validation.Experimental} {
		t.Run(ch.String(), func(t *testing.T) {
			var got strings.Builder
			files := 0
			for _, sub := range channelDirs(ch) {
				for _, f := range yamlFiles(t, filepath.Join(root, "hack", "invalid-examples", sub)) {
					_, problems := validateFile(t, validators[ch], f)
					rel := strings.TrimPrefix(f, root+"/")
					files++
					if len(problems) == 0 {
						t.Errorf("%s: accepted, want rejected", rel)
					}
					fmt.Fprintf(&got, "%s\n", rel)
					for _, p := range problems {
						fmt.Fprintf(&got, "\t%s\n", p)
					}
				}
			}
			t.Logf("%s channel: %d invalid example files rejected", ch, files)
			golden := filepath.Join("testdata", "invalid-examples-"+ch.String()+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCRDsCurrent checks that the CRDs embedded in the package are those
// of the gateway-api version in go.mod (hack/update-crds.sh copies them).
func TestCRDsCurrent(t *testing.T) {
	root := gatewayAPIDir(t)
	for _, ch := range []string{"standard", "experimental"} {
		embedded, err := filepath.Glob(filepath.Join("crds", ch, "*.yaml"))
		if err != nil || len(embedded) == 0 {
			t.Fatalf("no embedded CRDs for %s: %v", ch, err)
		}
		for _, f := range embedded {
			have, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(root, "config", "crd", ch, filepath.Base(f)))
			if err != nil {
				t.Errorf("%s: %v; run hack/update-crds.sh", f, err)
				continue
			}
			if !bytes.Equal(have, want) {
				t.Errorf("%s differs from the gateway-api module's copy; run hack/update-crds.sh", f)
			}
		}
		upstream, _ := filepath.Glob(filepath.Join(root, "config", "crd", ch, "*_*.yaml"))
		crds := 0
		for _, f := range upstream {
			data, _ := os.ReadFile(f)
			if bytes.Contains(data, []byte("\nkind: CustomResourceDefinition")) {
				crds++
			}
		}
		if crds != len(embedded) {
			t.Errorf("%s: %d CRDs upstream, %d embedded; run hack/update-crds.sh", ch, crds, len(embedded))
		}
	}
}
