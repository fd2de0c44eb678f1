package main

import "testing"

func TestCheck(t *testing.T) {
	runCases(t, "check", []commandCase{{
		name:   "valid manifests",
		args:   []string{"testdata/check/good"},
		stdout: "ok: 5 objects loaded (standard channel), 0 errors, 0 warnings\n",
	}, {
		name: "errors and warnings",
		args: []string{"testdata/check/bad"},
		code: 1,
		stdout: `testdata/check/bad/ab-fixed.yaml:24:9: httproute default/ab: spec.rules[1].matches[0].queryParams[0].value: Invalid value: "integer": spec.rules[1].matches[0].queryParams[0].value in body must be of type string: "integer"
testdata/check/bad/ab-fixed.yaml:1:1: httproute default/ab: <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation
testdata/check/bad/ab-malformed.yaml:17:7: document 1: did not find expected '-' indicator
testdata/check/bad/redirect.yaml:7:5: httproute default/redirect: spec.rules[0]: Invalid value: RequestRedirect filter must not be used together with backendRefs
testdata/check/bad/references.yaml:19:7: warning: httproute default/refs: spec.rules[1].backendRefs[0].name: Invalid value: "missing": service default/missing: httproute: object not found
`,
		stderr: "FAIL: 2 objects loaded (standard channel), 4 errors, 1 warning\n",
	}, {
		name:   "warnings alone pass",
		args:   []string{"testdata/check/bad/references.yaml"},
		stdout: "testdata/check/bad/references.yaml:19:7: warning: httproute default/refs: spec.rules[1].backendRefs[0].name: Invalid value: \"missing\": service default/missing: httproute: object not found\nok: 2 objects loaded (standard channel), 0 errors, 1 warning\n",
	}, {
		name:   "warnings fail with -strict",
		args:   []string{"-strict", "testdata/check/bad/references.yaml"},
		code:   1,
		stdout: "testdata/check/bad/references.yaml:19:7: warning: httproute default/refs: spec.rules[1].backendRefs[0].name: Invalid value: \"missing\": service default/missing: httproute: object not found\n",
		stderr: "FAIL: 2 objects loaded (standard channel), 0 errors, 1 warning\n",
	}, {
		name:   "experimental field in the standard channel",
		args:   []string{"testdata/check/experimental.yaml"},
		code:   1,
		stdout: "testdata/check/experimental.yaml:12:5: httproute default/session: strict decoding error: unknown field \"spec.rules[0].sessionPersistence\"; it is not in the standard channel: experimental fields need the experimental channel\n",
		stderr: "FAIL: 1 object loaded (standard channel), 1 error, 0 warnings; Service backendRefs not checked (no Services in the manifests)\n",
	}, {
		name:     "experimental channel",
		args:     []string{"-experimental", "testdata/check/experimental.yaml"},
		stdout:   "ok: 2 objects loaded (experimental channel), 0 errors",
		lastLine: true,
	}, {
		name: "unknown kind, then accepted with -kind",
		args: []string{"testdata/check/other-kind.yaml"},
		code: 1,
		stdout: `testdata/check/other-kind.yaml:2:1: widget gadget: kind: Invalid value: "Widget": no kind Widget is registered for apiVersion "example.com/v1"; register it with an httproute.Extension
`,
		stderr: "FAIL: 0 objects loaded (standard channel), 1 error, 0 warnings; Service backendRefs not checked (no Services in the manifests)\n",
	}, {
		name:   "-kind",
		args:   []string{"-kind", "example.com/v1/Widget", "testdata/check/other-kind.yaml"},
		stdout: "ok: 1 object loaded (standard channel), 0 errors, 0 warnings; Service backendRefs not checked (no Services in the manifests)\n",
	}, {
		name:   "a kind the binary serves",
		args:   []string{"testdata/check/kgateway-backend.yaml"},
		stdout: "ok: 1 object loaded (standard channel), 0 errors, 0 warnings; Service backendRefs not checked (no Services in the manifests)\n",
		reason: "kgateway Backends are served by serve (extension/lambda): check reads them too",
	}, {
		name:   "missing file",
		args:   []string{"testdata/check/missing.yaml"},
		code:   1,
		stdout: "stat testdata/check/missing.yaml: no such file or directory\n",
		stderr: "FAIL: 0 objects loaded (standard channel), 1 error, 0 warnings; Service backendRefs not checked (no Services in the manifests)\n",
	}, {
		name:   "no arguments",
		code:   2,
		stderr: "usage: httproute check [-experimental] [-strict] [-kind group/version/Kind]... <file-or-dir>...\n",
	}, {
		name:   "malformed -kind",
		args:   []string{"-kind", "Backend", "x.yaml"},
		code:   2,
		stderr: "invalid value \"Backend\" for flag -kind: want group/version/Kind, got \"Backend\"\n",
	}})
}
