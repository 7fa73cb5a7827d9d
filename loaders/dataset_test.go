package loaders

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCIFARNormalization: by hand, (b/255 − mean)/std with ODIN's
// mean (125.3, 123.0, 113.9)/255 and std (63.0, 62.1, 66.7)/255 is
// (b − mean·255)/(std·255):
//
//	R 255: (255 − 125.3)/63.0 = 2.0587302
//	R 125: (125 − 125.3)/63.0 = −0.0047619
//	G 0:   (0 − 123.0)/62.1   = −1.9806763
//	B 128: (128 − 113.9)/66.7 = 0.2113943
func TestCIFARNormalization(t *testing.T) {
	d := &Dataset{Name: "n", Pixels: make([]byte, ImageBytes)}
	d.Pixels[0] = 255                 // R (0, 0)
	d.Pixels[5] = 125                 // R (5, 0)
	d.Pixels[PlaneBytes+33] = 0       // G (1, 1)
	d.Pixels[2*PlaneBytes+1023] = 128 // B (31, 31)
	out := make([]float32, ImageBytes)
	d.Fill(out, nil, []int{0}, CIFARNormalization, nil, nil)
	for _, tc := range []struct {
		at   int
		want float64
	}{
		{0, 2.0587302},
		{5, -0.0047619},
		{PlaneBytes + 33, -1.9806763},
		{2*PlaneBytes + 1023, 0.2113943},
	} {
		if got := float64(out[tc.at]); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("value at %d = %.7f, want %.7f", tc.at, got, tc.want)
		}
	}
}

// TestFillUnaugmentedIsNormalization: without augmentation every value is
// exactly (b/255 − mean)/std (to float32 rounding) and labels follow idx.
func TestFillUnaugmentedIsNormalization(t *testing.T) {
	d := &Dataset{Name: "f", Pixels: make([]byte, 3*ImageBytes), Labels: []int{7, 8, 9}, Classes: 10}
	for i := range d.Pixels {
		d.Pixels[i] = byte(i * 37 % 256)
	}
	idx := []int{2, 0}
	out := make([]float32, len(idx)*ImageBytes)
	labels := make([]int, len(idx))
	d.Fill(out, labels, idx, CIFARNormalization, nil, nil)
	if labels[0] != 9 || labels[1] != 7 {
		t.Errorf("labels %v, want [9 7]", labels)
	}
	n := CIFARNormalization
	for j, i := range idx {
		src := d.Image(i)
		for k, b := range src {
			c := k / PlaneBytes
			want := (float64(b)/255 - float64(n.Mean[c])) / float64(n.Std[c])
			if got := float64(out[j*ImageBytes+k]); math.Abs(got-want) > 1e-5 {
				t.Fatalf("image %d byte %d: %.7f, want %.7f", i, k, got, want)
			}
		}
	}
}

// seqSource replays fixed 64-bit values, to force Fill's random choices.
type seqSource struct {
	vals []uint64
	i    int
}

func (s *seqSource) Uint64() uint64 {
	v := s.vals[s.i%len(s.vals)]
	s.i++
	return v
}

// forceIntN returns a Uint64 value for which rand.IntN(n) yields k: the
// middle of k's interval in Lemire's multiply-shift reduction.
func forceIntN(k, n int) uint64 {
	return uint64(2*k+1) * (math.MaxUint64 / uint64(2*n))
}

// TestAugmentationMovesPixels forces a shift of dx = +2, dy = −1 and a flip.
// Fill draws dx = IntN(9) − 4, dy = IntN(9) − 4, then flip = IntN(2) == 1.
// Output pixel (x, y) reads source (x + dx, y + dy), then the row is mirrored
// (x → 31 − x). The source is all 255 except one marker byte 100 at
// (x, y) = (5, 7) in the red plane, so:
//
//   - the marker lands at y = 7 − dy = 8, x = 31 − (5 − dx) = 28;
//   - row 0 reads source row −1: padding (byte 0) everywhere;
//   - columns 0 and 1 read source columns 31 + 2 and 30 + 2 (≥ 32): padding;
//   - everything else is 255.
func TestAugmentationMovesPixels(t *testing.T) {
	src := &seqSource{vals: []uint64{forceIntN(6, 9), forceIntN(3, 9), 1}}
	// The forcing values do what they claim.
	probe := rand.New(&seqSource{vals: src.vals})
	if a, b, c := probe.IntN(9), probe.IntN(9), probe.IntN(2); a != 6 || b != 3 || c != 1 {
		t.Fatalf("forced draws %d %d %d, want 6 3 1", a, b, c)
	}
	d := &Dataset{Name: "a", Pixels: make([]byte, ImageBytes)}
	for i := range d.Pixels {
		d.Pixels[i] = 255
	}
	d.Pixels[7*Side+5] = 100
	out := make([]float32, ImageBytes)
	d.Fill(out, nil, []int{0}, Normalization{Std: [3]float32{1, 1, 1}}, &StandardAugmentation, rand.New(src))
	// With mean 0 and std 1 the output is b/255.
	for c := 0; c < Channels; c++ {
		for y := 0; y < Side; y++ {
			for x := 0; x < Side; x++ {
				want := 1.0
				switch {
				case y == 0 || x <= 1:
					want = 0 // padding
				case c == 0 && x == 28 && y == 8:
					want = 100.0 / 255
				}
				if got := float64(out[c*PlaneBytes+y*Side+x]); math.Abs(got-want) > 1e-6 {
					t.Fatalf("channel %d (%d, %d) = %.4f, want %.4f", c, x, y, got, want)
				}
			}
		}
	}
}

// TestAugmentationPaddingIsNormalisedBlack: padding is byte 0 before
// normalisation (torchvision pads the PIL image), so with CIFAR
// normalisation a padded red value is −125.3/63.0 = −1.9888889.
func TestAugmentationPaddingIsNormalisedBlack(t *testing.T) {
	src := &seqSource{vals: []uint64{forceIntN(0, 9), forceIntN(4, 9), 0}} // dx = −4, dy = 0, no flip
	d := &Dataset{Name: "p", Pixels: make([]byte, ImageBytes)}
	for i := range d.Pixels {
		d.Pixels[i] = 200
	}
	out := make([]float32, ImageBytes)
	d.Fill(out, nil, []int{0}, CIFARNormalization, &StandardAugmentation, rand.New(src))
	for x := 0; x < Side; x++ {
		want := (200 - 125.3) / 63.0
		if x < 4 {
			want = -125.3 / 63.0
		}
		if got := float64(out[10*Side+x]); math.Abs(got-want) > 1e-5 {
			t.Errorf("red (%d, 10) = %.6f, want %.6f", x, got, want)
		}
	}
}

// TestReflectTranslate: a shift by (dx, dy) = (−2, 1) with reflection (forced
// draws 0 and 3 of IntN(5)) reads pixel (x − 2, y + 1), reflected about the
// edge pixels: column −1 is column 1, column −2 column 2, row 32 row 30.
func TestReflectTranslate(t *testing.T) {
	src := &seqSource{vals: []uint64{forceIntN(0, 5), forceIntN(3, 5)}}
	d := &Dataset{Name: "r", Pixels: make([]byte, ImageBytes)}
	for y := 0; y < Side; y++ {
		for x := 0; x < Side; x++ {
			d.Pixels[y*Side+x] = byte(y*Side/4 + x) // red: distinct enough
		}
	}
	out := make([]float32, ImageBytes)
	d.Fill(out, nil, []int{0}, Normalization{Std: [3]float32{1, 1, 1}}, &AirbenchAugmentation, rand.New(src))
	reflect := func(i int) int {
		if i < 0 {
			return -i
		}
		if i >= Side {
			return 2*(Side-1) - i
		}
		return i
	}
	for y := 0; y < Side; y++ {
		for x := 0; x < Side; x++ {
			sy, sx := reflect(y+1), reflect(x-2)
			want := float32(d.Pixels[sy*Side+sx]) / 255
			if got := out[y*Side+x]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("(%d, %d) = %v, want pixel (%d, %d) = %v", x, y, got, sx, sy, want)
			}
		}
	}
}

// TestAlternatingFlips: with airbench's augmentation every image is mirrored
// in every other epoch, half of them from the first epoch on, and a nil rng
// (prediction) augments nothing.
func TestAlternatingFlips(t *testing.T) {
	const n = 200
	d := &Dataset{Name: "f", Pixels: make([]byte, n*ImageBytes)}
	for i := 0; i < n; i++ {
		d.Image(i)[0] = 1 // the top-left red pixel marks the orientation
	}
	b := Batches{Set: d, Norm: Normalization{Std: [3]float32{1, 1, 1}}, Aug: &Augmentation{AltFlip: true}, Seed: 7}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	flipped := func(epoch int, rng *rand.Rand) []bool {
		out := make([]float32, n*ImageBytes)
		b.Fill(out, nil, idx, rng, epoch)
		f := make([]bool, n)
		for i := range f {
			f[i] = out[i*ImageBytes+Side-1] != 0
		}
		return f
	}
	rng := rand.New(rand.NewPCG(1, 1))
	e0, e1, e2 := flipped(0, rng), flipped(1, rng), flipped(2, rng)
	count := 0
	for i := range e0 {
		if e0[i] == e1[i] || e0[i] != e2[i] {
			t.Fatalf("image %d flipped %v, %v, %v in epochs 0–2", i, e0[i], e1[i], e2[i])
		}
		if e0[i] {
			count++
		}
	}
	if count < n/3 || count > 2*n/3 {
		t.Errorf("%d of %d images start flipped", count, n)
	}
	for i, f := range flipped(1, nil) {
		if f {
			t.Fatalf("image %d flipped without an rng", i)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		d  *Dataset
		ok bool
	}{
		{&Dataset{Name: "ok", Pixels: make([]byte, 2*ImageBytes), Labels: []int{0, 9}, Classes: 10}, true},
		{&Dataset{Name: "ragged", Pixels: make([]byte, ImageBytes+1)}, false},
		{&Dataset{Name: "labels", Pixels: make([]byte, 2*ImageBytes), Labels: []int{0}, Classes: 10}, false},
		{&Dataset{Name: "range", Pixels: make([]byte, ImageBytes), Labels: []int{10}, Classes: 10}, false},
	} {
		if err := tc.d.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.d.Name, err)
		}
	}
}
