// Package duration parses Gateway API durations (GEP-2257): one to four
// groups of up to five digits followed by a unit of h, m, s or ms, such as
// "1h", "2h45m", "500ms" or "0s". No sign, no fraction, no other units.
package duration

import (
	"fmt"
	"time"
)

// Parse returns the duration s stands for, or an error saying what is wrong
// with it.
func Parse(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	groups := 0
	for i := 0; i < len(s); {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		digits := s[start:i]
		if digits == "" {
			return 0, fmt.Errorf("invalid duration %q: expected digits at offset %d", s, start)
		}
		if len(digits) > 5 {
			return 0, fmt.Errorf("invalid duration %q: more than 5 digits in %q", s, digits)
		}
		var n int64
		for _, c := range digits {
			n = n*10 + int64(c-'0')
		}
		var unit time.Duration
		switch {
		case i+1 < len(s) && s[i] == 'm' && s[i+1] == 's':
			unit, i = time.Millisecond, i+2
		case i < len(s) && s[i] == 'h':
			unit, i = time.Hour, i+1
		case i < len(s) && s[i] == 'm':
			unit, i = time.Minute, i+1
		case i < len(s) && s[i] == 's':
			unit, i = time.Second, i+1
		default:
			return 0, fmt.Errorf("invalid duration %q: expected a unit h, m, s or ms after %q", s, digits)
		}
		groups++
		if groups > 4 {
			return 0, fmt.Errorf("invalid duration %q: more than 4 groups", s)
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}
