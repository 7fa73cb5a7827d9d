package loaders

import (
	"bytes"
	"math"
	"testing"
)

func TestNoiseDeterministic(t *testing.T) {
	for _, gen := range []func(int, uint64) (*Dataset, error){Gaussian, Uniform} {
		a, err := gen(4, 11)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := gen(4, 11)
		c, _ := gen(4, 12)
		if a.Len() != 4 || a.Labelled() {
			t.Errorf("%s: %d images, labelled %v", a.Name, a.Len(), a.Labelled())
		}
		if !bytes.Equal(a.Pixels, b.Pixels) {
			t.Errorf("%s: same seed, different pixels", a.Name)
		}
		if bytes.Equal(a.Pixels, c.Pixels) {
			t.Errorf("%s: different seeds, same pixels", a.Name)
		}
		// A longer set starts with the shorter one (image by image).
		long, _ := gen(6, 11)
		if !bytes.Equal(long.Pixels[:len(a.Pixels)], a.Pixels) {
			t.Errorf("%s: not drawn image by image", a.Name)
		}
	}
	if _, err := Gaussian(0, 1); err == nil {
		t.Error("Gaussian(0) succeeded")
	}
}

// TestNoiseValues checks the first pixels against the generator directly
// and the distributions against their known moments.
func TestNoiseValues(t *testing.T) {
	g, _ := Gaussian(200, 3)
	rng := newRand(3)
	for i := 0; i < 10; i++ {
		v := min(max(0.5+rng.NormFloat64(), 0), 1)
		if want := byte(math.Round(255 * v)); g.Pixels[i] != want {
			t.Errorf("gaussian pixel %d = %d, want %d", i, g.Pixels[i], want)
		}
	}
	// N(0.5, 1) clipped: P(v ≤ 0) = P(v ≥ 1) = Φ(−0.5) = 0.3085.
	var lo, hi int
	for _, b := range g.Pixels {
		switch b {
		case 0:
			lo++
		case 255:
			hi++
		}
	}
	n := float64(len(g.Pixels)) // 614,400 pixels: σ of a fraction ≈ 0.0006
	if f := float64(lo) / n; math.Abs(f-0.3085) > 0.005 {
		t.Errorf("gaussian: %.4f of pixels at 0, want 0.3085", f)
	}
	if f := float64(hi) / n; math.Abs(f-0.3085) > 0.005 {
		t.Errorf("gaussian: %.4f of pixels at 255, want 0.3085", f)
	}
	u, _ := Uniform(200, 3)
	rng = newRand(3)
	var sum float64
	for i, b := range u.Pixels {
		if i < 10 {
			if want := byte(math.Round(255 * rng.Float64())); b != want {
				t.Errorf("uniform pixel %d = %d, want %d", i, b, want)
			}
		}
		sum += float64(b)
	}
	// Mean of round(255·U) is 127.5; σ of the mean ≈ 73.6/√614400 ≈ 0.094.
	if m := sum / float64(len(u.Pixels)); math.Abs(m-127.5) > 0.5 {
		t.Errorf("uniform mean %.3f, want 127.5", m)
	}
}
