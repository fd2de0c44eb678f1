package duration

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	valid := map[string]time.Duration{
		"0s":                0,
		"0h":                0,
		"1h":                time.Hour,
		"500ms":             500 * time.Millisecond,
		"2h45m":             2*time.Hour + 45*time.Minute,
		"1h2m3s4ms":         time.Hour + 2*time.Minute + 3*time.Second + 4*time.Millisecond,
		"99999s":            99999 * time.Second,
		"10s":               10 * time.Second,
		"5m10s100ms":        5*time.Minute + 10*time.Second + 100*time.Millisecond,
		"1s1s":              2 * time.Second,
		"00001ms":           time.Millisecond,
		"1m500ms":           time.Minute + 500*time.Millisecond,
		"3h0m0s0ms":         3 * time.Hour,
		"100000"[:5] + "ms": 10 * time.Second,
	}
	for in, want := range valid {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	invalid := []string{"", "1", "s", "1d", "1.5s", "-1s", "+1s", "100000s", "1h1m1s1ms1s", " 1s", "1s ", "1us", "1m s", "1S"}
	for _, in := range invalid {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1h", "2h45m", "500ms", "0s", "1h2m3s4ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err == nil && d < 0 {
			t.Fatalf("Parse(%q) = %v: negative", s, d)
		}
	})
}
