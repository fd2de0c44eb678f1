package httproute

import (
	"fmt"
	"math/rand/v2"
	"net/http"
)

// backendEntry is one backendRef of a rule, ready to serve: its choice as
// Lookup reports it and the handler running its filters and backend.
type backendEntry struct {
	choice  BackendChoice
	handler http.Handler
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

// newSplit returns the handler that picks a backendRef per request. A rule
// whose weights are all zero answers 500 to every request, as the spec
// requires.
func newSplit(entries []*backendEntry, e *env) http.Handler {
	s := &split{rand: e.rand}
	for _, be := range entries {
		if be.choice.Weight <= 0 {
			continue
		}
		s.total += uint64(be.choice.Weight)
		s.entries = append(s.entries, be)
		s.cum = append(s.cum, s.total)
	}
	switch len(s.entries) {
	case 0:
		return errorHandler{fmt.Errorf("%w: every backendRef has weight 0", ErrInvalidRule)}
	case 1:
		return s.entries[0].handler
	}
	return s
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

func (s *split) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.entries[s.pick()].handler.ServeHTTP(w, r)
}
