package httproute

import (
	"math/rand/v2"
	"net/http"
)

// backendEntry is one backendRef of a rule, ready to serve: its choice as
// Lookup reports it, the handler running its filters and backend, and the
// resolved backend itself (nil when the reference is invalid).
type backendEntry struct {
	choice  BackendChoice
	handler http.Handler
	backend Backend
	// index is the position of the backendRef in the rule.
	index int
	// session is the session persistence of the backend object itself
	// (an XBackend's), which takes precedence over the rule's.
	session *sessionPolicy
	// budget is the retry budget of the backend, shared by the
	// backendRefs of a table that name the same backend.
	budget *retryBudget
}

// split chooses among a rule's backendRefs in proportion to their weights:
// one random draw in [0, total) and a binary search over the cumulative
// weights, which are computed once at compile time. A weight of 0 is never
// chosen; invalid backendRefs keep their share and answer 500.
type split struct {
	entries []*backendEntry
	cum     []uint64
	total   uint64
	rand    *rand.Rand
}

func newSplit(entries []*backendEntry, e *env) *split {
	s := &split{rand: e.rand}
	for _, be := range entries {
		if be.choice.Weight <= 0 {
			continue
		}
		s.total += uint64(be.choice.Weight)
		s.entries = append(s.entries, be)
		s.cum = append(s.cum, s.total)
	}
	return s
}

// choose returns the entry for one request, or nil when every weight is
// zero (the spec requires a 500 then). A single entry needs no draw.
func (s *split) choose() *backendEntry {
	switch len(s.entries) {
	case 0:
		return nil
	case 1:
		return s.entries[0]
	}
	return s.entries[s.pick()]
}

// pick returns the index of the entry for one draw.
func (s *split) pick() int {
	n := s.rand.Uint64N(s.total)
	lo, hi := 0, len(s.cum)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.cum[mid] > n {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// markFailed records in failed (indexed by position in the split) that
// entry failed, allocating the record on first use.
func (s *split) markFailed(failed []bool, entry *backendEntry) []bool {
	for i, e := range s.entries {
		if e == entry {
			if failed == nil {
				failed = make([]bool, len(s.entries))
			}
			failed[i] = true
		}
	}
	return failed
}

// chooseAvoiding is choose restricted to the entries not marked in
// failed, in proportion to their weights; when every entry has failed it
// is choose.
func (s *split) chooseAvoiding(failed []bool) *backendEntry {
	var total uint64
	prev := uint64(0)
	for i, c := range s.cum {
		if failed == nil || !failed[i] {
			total += c - prev
		}
		prev = c
	}
	if total == 0 || total == s.total {
		return s.choose()
	}
	n := s.rand.Uint64N(total)
	prev = 0
	for i, c := range s.cum {
		w := c - prev
		prev = c
		if failed[i] {
			continue
		}
		if n < w {
			return s.entries[i]
		}
		n -= w
	}
	return s.choose()
}
