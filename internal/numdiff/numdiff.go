// Package numdiff checks gradients against central finite differences: the
// one checker behind the gradient tests of the engine's ops, of whole
// networks, and of the detectors that follow a gradient (ODIN).
package numdiff

import (
	"math"
	"testing"
)

// Central is the central finite difference (f(x + h) − f(x − h)) / 2h of f
// with respect to x[j]; x[j] is restored afterwards.
func Central(f func() float64, x []float32, j int, h float32) float64 {
	old := x[j]
	x[j] = old + h
	plus := f()
	x[j] = old - h
	minus := f()
	x[j] = old
	return (plus - minus) / (2 * float64(h))
}

// Check compares analytic[j], the gradient of f with respect to x[j], with
// Central at step(x[j]) for each j in picks, and reports the elements where
// |analytic − numeric| > atol + rtol·|numeric| (the first five in detail).
// It returns how many failed.
func Check(t testing.TB, name string, f func() float64, x, analytic []float32, picks []int, step func(x float32) float32, atol, rtol float64) int {
	t.Helper()
	bad := 0
	for _, j := range picks {
		numeric := Central(f, x, j, step(x[j]))
		if d := math.Abs(float64(analytic[j]) - numeric); d > atol+rtol*math.Abs(numeric) {
			bad++
			if bad <= 5 {
				t.Errorf("%s: element %d: analytic %.6g, finite difference %.6g", name, j, analytic[j], numeric)
			}
		}
	}
	return bad
}

// Fixed is a step of h whatever the value.
func Fixed(h float32) func(float32) float32 { return func(float32) float32 { return h } }

// Relative is a step of h·max(1, |x|).
func Relative(h float64) func(float32) float32 {
	return func(x float32) float32 { return float32(h * math.Max(1, math.Abs(float64(x)))) }
}
