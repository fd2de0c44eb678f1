package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/manifest"
	"github.com/httproute/httproute/validation"
)

// An example is what -only selects: one example of the seed post (by its
// number, the prefix of its file in manifests/seed) or one example the
// tour adds (by its name, a file in manifests/tour).
type example struct {
	id string
	// files are loaded in order, each on its own, as kubectl apply -f
	// would; paths are relative to manifests/.
	files []string
	// needs are the examples this one cannot work without (the
	// DirectResponse that route 07 names is example 06).
	needs []string
	// shadowedBy is the example whose older route answers every request
	// this one's would. When both are served, this one gets a Router of
	// its own, on the second address, so that one run shows both.
	shadowedBy string
	// channel validates the files: the experimental channel for an example
	// that uses experimental fields.
	channel validation.Channel
}

// catalog lists the examples, in the order their objects are created.
func catalog() ([]example, error) {
	seed, err := fs.Glob(manifests, "manifests/seed/*.yaml")
	if err != nil {
		return nil, err
	}
	tour, err := fs.Glob(manifests, "manifests/tour/*.yaml")
	if err != nil {
		return nil, err
	}
	var all []example
	for _, f := range seed {
		num, _, _ := strings.Cut(path.Base(f), "-")
		e := example{id: num, files: []string{strings.TrimPrefix(f, "manifests/")}}
		switch num {
		case "03":
			// The A/B route as published does not parse; the quick start
			// also shows what an API server says once its indentation is
			// fixed, and serves a corrected copy.
			e.files = append(e.files, "ab/03-indentation-fixed.yaml", "ab/03-corrected.yaml")
		case "05":
			// 05 redirects what route 01 (same host, all paths, older)
			// already serves.
			e.shadowedBy = "01"
		case "07":
			e.needs = []string{"06"}
		case "12":
			e.needs = []string{"11"}
		}
		all = append(all, e)
	}
	for _, f := range tour {
		e := example{id: strings.TrimSuffix(path.Base(f), ".yaml"), files: []string{strings.TrimPrefix(f, "manifests/")}}
		if e.id == "session" {
			// sessionPersistence is still experimental in Gateway API
			// v1.7 (timeouts and retry are standard).
			e.channel = validation.Experimental
		}
		all = append(all, e)
	}
	return all, nil
}

// selectExamples returns the examples -only names (all of them when it is
// empty) and those they need, in catalog order. An unknown name is an
// error that lists the valid ones.
func selectExamples(all []example, only string) ([]example, error) {
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	byID := map[string]example{}
	var ids []string
	for _, e := range all {
		byID[e.id] = e
		ids = append(ids, e.id)
	}
	want := map[string]bool{}
	var add func(id string)
	add = func(id string) {
		if want[id] {
			return
		}
		want[id] = true
		for _, n := range byID[id].needs {
			add(n)
		}
	}
	var unknown []string
	for _, id := range strings.Split(only, ",") {
		id = strings.TrimSpace(id)
		if _, ok := byID[id]; !ok {
			unknown = append(unknown, fmt.Sprintf("%q", id))
			continue
		}
		add(id)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("-only: unknown example %s; the examples are %s", strings.Join(unknown, ", "), strings.Join(ids, ", "))
	}
	var out []example
	for _, e := range all {
		if want[e.id] {
			out = append(out, e)
		}
	}
	return out, nil
}

// loader reads the embedded manifests with one Validator per channel, so
// that each CRD schema is compiled once.
type loader struct {
	exts       []httproute.Extension
	validators map[validation.Channel]*validation.Validator
}

func newLoader(exts []httproute.Extension) *loader {
	return &loader{exts: exts, validators: map[validation.Channel]*validation.Validator{
		validation.Standard:     validation.New(validation.Standard),
		validation.Experimental: validation.New(validation.Experimental),
	}}
}

func (l *loader) decode(ch validation.Channel, name string) (*manifest.Manifests, error) {
	data, err := manifests.ReadFile("manifests/" + name)
	if err != nil {
		return nil, err
	}
	return manifest.Decode(manifest.Options{Extensions: l.exts, Validator: l.validators[ch]}, name, bytes.NewReader(data))
}

// abNote is what the quick start says before the problems of a file of
// the A/B route, or once its corrected copy is loaded.
func abNote(file string) (string, bool) {
	switch file {
	case "seed/03-httproute-httpbin.yaml":
		return "The post's A/B route (03), exactly as published, is not valid YAML (an API server would refuse it too):", true
	case "ab/03-indentation-fixed.yaml":
		return "With its indentation fixed (manifests/ab/03-indentation-fixed.yaml), an API server still refuses it: value: 2 is a number, and query parameter values are strings:", true
	case "ab/03-corrected.yaml":
		return `Served instead: manifests/ab/03-corrected.yaml, the A/B route with its indentation fixed and value: "2" quoted.`, true
	}
	return "", false
}

// configs is what the selected examples load into: the Config of the main
// Router, and the Config of the Router for examples that others shadow
// (no HTTPRoute when there are none).
type configs struct {
	main, alone httproute.Config
	// where tells which Router serves each example: "main" or "alone".
	where map[string]string
}

// load reads the Gateways and the files of every example, each file on
// its own, and merges those of the selected examples. Every example is
// read, so that objects are named and ordered the same whatever -only
// selects. It returns notes for the person running the quick start about
// the selected examples: files rejected (with their positions), objects
// renamed, channels used.
func (l *loader) load(all, selected []example) (configs, []string, error) {
	out := configs{where: map[string]string{}}
	gw, err := l.decode(validation.Standard, "gateways.yaml")
	if err != nil {
		return out, nil, err
	}
	out.main.Gateways = gw.Config.Gateways
	out.alone.Gateways = gw.Config.Gateways

	ids := map[string]bool{}
	for _, e := range selected {
		ids[e.id] = true
	}
	var notes []string
	seen := map[string]string{} // kind/namespace/name -> file
	// Objects are created in file order, as if applied in that order,
	// which decides precedence between otherwise equal routes.
	created := time.Date(2025, 3, 28, 0, 0, 0, 0, time.UTC)
	for _, e := range all {
		served := ids[e.id]
		note := func(n string) {
			if served {
				notes = append(notes, n)
			}
		}
		cfg := &out.main
		if served {
			out.where[e.id] = "main"
			if e.shadowedBy != "" && ids[e.shadowedBy] {
				cfg, out.where[e.id] = &out.alone, "alone"
			}
		}
		if e.channel == validation.Experimental {
			note(fmt.Sprintf("Loaded %s with the experimental channel: sessionPersistence is still experimental in Gateway API v1.7 (timeouts and retry are standard).", strings.Join(e.files, ", ")))
		}
		for _, f := range e.files {
			m, err := l.decode(e.channel, f)
			if err != nil {
				lead, ok := abNote(f)
				if !ok {
					lead = "Rejected " + f + " (left out, as an API server would refuse it):"
				}
				note(lead + "\n  " + strings.ReplaceAll(err.Error(), "\n", "\n  "))
				continue
			}
			if lead, ok := abNote(f); ok {
				note(lead)
			}
			for _, hr := range m.Config.HTTPRoutes {
				created = created.Add(time.Second)
				hr.CreationTimestamp = metav1.NewTime(created)
				key := "HTTPRoute/" + hr.Namespace + "/" + hr.Name
				if first, dup := seen[key]; dup {
					renamed := hr.Name + "-" + e.id
					note(fmt.Sprintf("Renamed HTTPRoute %s/%s of %s to %s: %s uses the name too (a cluster would keep only the last one applied).",
						hr.Namespace, hr.Name, f, renamed, first))
					hr.Name = renamed
					key = "HTTPRoute/" + hr.Namespace + "/" + hr.Name
				}
				seen[key] = f
			}
			if served {
				cfg.HTTPRoutes = append(cfg.HTTPRoutes, m.Config.HTTPRoutes...)
				cfg.ReferenceGrants = append(cfg.ReferenceGrants, m.Config.ReferenceGrants...)
				cfg.Objects = append(cfg.Objects, m.Config.Objects...)
			}
		}
	}
	return out, notes, nil
}
