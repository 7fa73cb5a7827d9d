package nets

import "cmp"

// Argmax is the index of the largest of v (the first on ties).
func Argmax[T cmp.Ordered](v []T) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
