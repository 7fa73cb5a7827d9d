package nets

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestSmoothedCrossEntropyValue: logits (0, ln 2, ln 3) give p = (1, 2, 3)/6;
// with label 2 and s = 0.3 the target is 0.7·e2 + 0.1·(1, 1, 1), so the loss
// is −(0.1·log(1/6) + 0.1·log(2/6) + 0.8·log(3/6)).
func TestSmoothedCrossEntropyValue(t *testing.T) {
	g := G.NewGraph()
	z := G.NewTensor(g, tensor.Float32, 2, G.WithShape(1, 3), G.WithValue(tensor.New(tensor.WithBacking([]float32{0, float32(math.Ln2), float32(math.Log(3))}), tensor.WithShape(1, 3))))
	y := G.NewTensor(g, tensor.Float32, 1, G.WithShape(1), G.WithValue(tensor.New(tensor.WithBacking([]float32{2}), tensor.WithShape(1))))
	loss, err := SmoothedCrossEntropy(y, z, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	want := -(0.1*math.Log(1.0/6) + 0.1*math.Log(2.0/6) + 0.8*math.Log(3.0/6))
	if got := float64(scalarOf(loss.Value())); math.Abs(got-want) > 1e-6 {
		t.Errorf("loss %v, want %v", got, want)
	}
	if _, err := SmoothedCrossEntropy(y, z, 1); err == nil {
		t.Error("smoothing 1 accepted")
	}
}

// TestOneCycle: airbench's triangle (20% of the peak at the start, 7% at the
// end, the peak at 23%) and Page's one-cycle (0 at both ends).
func TestOneCycle(t *testing.T) {
	tri := OneCycle{Peak: 2, PeakAt: 2.3, Epochs: 10, Start: 0.2, End: 0.07}
	page := OneCycle{Peak: 2, PeakAt: 2.5, Epochs: 10}
	for _, c := range []struct {
		s     OneCycle
		epoch float64
		want  float64
	}{
		{tri, 0, 0.4}, {tri, 1.15, 1.2}, {tri, 2.3, 2}, {tri, 10, 0.14}, {tri, 6.15, 2 * (0.07 + 0.93*0.5)}, {tri, 12, 0.14},
		{page, 0, 0}, {page, 1.25, 1}, {page, 2.5, 2}, {page, 6.25, 1}, {page, 10, 0},
	} {
		if got := c.s.LR(c.epoch); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%+v at epoch %v: %v, want %v", c.s, c.epoch, got, c.want)
		}
	}
}

// TestTTAViews: every level's weights add to 1; a shift by (1, 1) reads the
// next pixel with the border reflected; a mirror reverses every row.
func TestTTAViews(t *testing.T) {
	for level := 0; level <= 2; level++ {
		views, err := ttaViews(level)
		if err != nil {
			t.Fatal(err)
		}
		var sum float32
		for _, v := range views {
			sum += v.w
		}
		if math.Abs(float64(sum-1)) > 1e-7 {
			t.Errorf("level %d: weights add to %v", level, sum)
		}
	}
	if _, err := ttaViews(3); err == nil {
		t.Error("TTA level 3 accepted")
	}
	src := make([]float32, ImageSize)
	for i := range src {
		src[i] = float32(i)
	}
	dst := make([]float32, ImageSize)
	view{dx: 1, dy: 1}.apply(dst, src)
	// Output (x, y) reads (x + 1, y + 1); row and column 32 reflect to 30.
	for _, c := range []struct{ x, y, sx, sy int }{{0, 0, 1, 1}, {31, 0, 30, 1}, {5, 31, 6, 30}, {31, 31, 30, 30}} {
		if got, want := dst[c.y*ImageSide+c.x], src[c.sy*ImageSide+c.sx]; got != want {
			t.Errorf("shifted (%d, %d) = %v, want source (%d, %d) = %v", c.x, c.y, got, c.sx, c.sy, want)
		}
	}
	view{flip: true}.apply(dst, src)
	if dst[3] != src[ImageSide-1-3] || dst[2*ImageSide*ImageSide+ImageSide+4] != src[2*ImageSide*ImageSide+ImageSide+ImageSide-1-4] {
		t.Error("the mirror view does not mirror every row of every channel")
	}
}
