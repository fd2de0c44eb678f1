package httproute

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// FuzzRetryWait drives the retry wait with any backoff, attempt number,
// Retry-After value and remaining budget: it never panics, never returns
// a negative wait or one above its caps, and never one the budget does
// not cover.
func FuzzRetryWait(f *testing.F) {
	f.Add(int64(25*time.Millisecond), 0, "", int64(time.Second), uint64(1))
	f.Add(int64(math.MaxInt64), 63, "18446744074", int64(math.MaxInt64), uint64(2))
	f.Add(int64(360000*time.Hour), 2, "9223372037", int64(math.MaxInt64), uint64(3))
	f.Add(int64(time.Second), 1000000, "Wed, 21 Oct 2015 07:28:00 GMT", int64(-1), uint64(4))
	f.Add(int64(-5), -3, "-1", int64(0), uint64(5))
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, backoff int64, n int, retryAfter string, remaining int64, seed uint64) {
		p := &retryPolicy{attempts: 1, backoff: time.Duration(backoff)}
		rnd := rand.New(rand.NewPCG(seed, seed))
		d, ok := p.wait(n, retryAfter, now, time.Duration(remaining), rnd)
		if d < 0 {
			t.Fatalf("negative wait %v", d)
		}
		if limit := max(MaxRetryAfter, MaxRetryBackoff); d > limit {
			t.Fatalf("wait %v above the cap %v", d, limit)
		}
		if ok && d >= time.Duration(remaining) {
			t.Fatalf("wait %v not covered by the remaining %v", d, time.Duration(remaining))
		}
		if !ok && d != 0 {
			t.Fatalf("no retry but a wait of %v", d)
		}
	})
}
