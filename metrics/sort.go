package metrics

import (
	"math"
	"slices"
)

// radixMin is the length from which sortedFloats uses the radix sort; below
// it slices.Sort is as fast.
const radixMin = 256

// sortedFloats returns an ascending copy of the finite scores s. Long inputs
// are radix sorted: sorting is most of the cost of a Report, and an LSD radix
// sort on order-preserving integer keys is about 4× faster than slices.Sort
// on a million scores. −0 sorts just before +0; the sweeps treat them as
// equal, as == does.
func sortedFloats(s []float64) []float64 {
	if len(s) < radixMin {
		out := slices.Clone(s)
		slices.Sort(out)
		return out
	}
	keys, tmp := make([]uint64, len(s)), make([]uint64, len(s))
	var counts [8][256]int
	for k, v := range s {
		key := floatKey(v)
		keys[k] = key
		for d := range 8 {
			counts[d][byte(key>>(8*d))]++
		}
	}
	for d := range 8 {
		c := &counts[d]
		if c[byte(keys[0]>>(8*d))] == len(keys) {
			continue // every key has this byte: the pass would not move anything
		}
		sum := 0
		for b, n := range c {
			c[b] = sum
			sum += n
		}
		for _, key := range keys {
			b := byte(key >> (8 * d))
			tmp[c[b]] = key
			c[b]++
		}
		keys, tmp = tmp, keys
	}
	out := make([]float64, len(s))
	for k, key := range keys {
		out[k] = keyFloat(key)
	}
	return out
}

// floatKey maps a float64 to a uint64 with the same order: negative numbers
// have every bit flipped, others only the sign bit.
func floatKey(v float64) uint64 {
	b := math.Float64bits(v)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// keyFloat inverts floatKey.
func keyFloat(key uint64) float64 {
	if key>>63 == 1 {
		return math.Float64frombits(key &^ (1 << 63))
	}
	return math.Float64frombits(^key)
}
