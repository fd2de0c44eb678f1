package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// commandCase is one run of a command, in process.
type commandCase struct {
	name string
	args []string
	code int
	// stdout and stderr are what the command writes, except that on a
	// usage error (code 2) only the first line of stderr is compared (the
	// flag defaults follow).
	stdout, stderr string
	// lastLine compares only the last line of stdout, by prefix: the
	// lines before depend on what the Router implements.
	lastLine bool
	// lastRecord compares only the last line of stderr, a JSON log record
	// without its time.
	lastRecord bool
	reason     string
}

// runCases runs command with the args of each case and compares what it
// returns and writes.
func runCases(t *testing.T, command string, cases []commandCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(append([]string{command}, tc.args...), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			gotOut := stdout.String()
			if tc.lastLine {
				lines := strings.Split(strings.TrimSuffix(gotOut, "\n"), "\n")
				if gotOut = lines[len(lines)-1]; strings.HasPrefix(gotOut, tc.stdout) {
					gotOut = tc.stdout
				}
			}
			if diff := cmp.Diff(tc.stdout, gotOut); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			gotErr := stderr.String()
			switch {
			case tc.code == 2:
				gotErr, _, _ = strings.Cut(gotErr, "\n")
				gotErr += "\n"
			case tc.lastRecord:
				lines := strings.Split(strings.TrimSpace(gotErr), "\n")
				gotErr = lines[len(lines)-1]
				var rec map[string]any
				if err := json.Unmarshal([]byte(gotErr), &rec); err == nil {
					delete(rec, "time")
					b, _ := json.Marshal(rec) // keys sorted
					gotErr = string(b)
				}
			}
			if diff := cmp.Diff(tc.stderr, gotErr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}
