package nets

import (
	"context"
	"fmt"

	"github.com/mcdood/mcdood/internal/progress"
)

// Inference: a model's evaluation-mode outputs on a data set (Predict),
// optionally averaged over test-time views (PredictOptions.TTA).

// PredictOptions tune Predict.
type PredictOptions struct {
	Batch    int  // images per forward pass (default 256)
	Features bool // also return the extractor's features (not with TTA)
	// TTA averages the logits over views of each image (airbench's
	// test-time augmentation): 1, the image and its mirror; 2, those and
	// the mirrored pair shifted by one pixel up-left and down-right with
	// reflection, weighted ½ and ¼ + ¼.
	TTA      int
	Progress *progress.Reporter
}

// view is one test-time view of an image: a shift by (dx, dy) with the
// border reflected, then a mirror when flip is set, and its weight.
type view struct {
	dx, dy int
	flip   bool
	w      float32
}

// ttaViews are the views of a TTA level (PredictOptions.TTA).
func ttaViews(level int) ([]view, error) {
	switch level {
	case 0:
		return []view{{w: 1}}, nil
	case 1:
		return []view{{w: 0.5}, {flip: true, w: 0.5}}, nil
	case 2:
		return []view{{w: 0.25}, {flip: true, w: 0.25}, {dx: -1, dy: -1, w: 0.125}, {dx: -1, dy: -1, flip: true, w: 0.125},
			{dx: 1, dy: 1, w: 0.125}, {dx: 1, dy: 1, flip: true, w: 0.125}}, nil
	}
	return nil, fmt.Errorf("nets: TTA level %d: want 0, 1 or 2", level)
}

// apply writes view v of the NCHW images in src into dst.
func (v view) apply(dst, src []float32) {
	reflect := func(i int) int {
		switch {
		case i < 0:
			return -i
		case i >= ImageSide:
			return 2*(ImageSide-1) - i
		}
		return i
	}
	for p := 0; p < len(src); p += ImageSide * ImageSide {
		in, out := src[p:p+ImageSide*ImageSide], dst[p:p+ImageSide*ImageSide]
		for y := 0; y < ImageSide; y++ {
			row := in[reflect(y+v.dy)*ImageSide:]
			for x := 0; x < ImageSide; x++ {
				ox := x
				if v.flip {
					ox = ImageSide - 1 - x
				}
				out[y*ImageSide+ox] = row[reflect(x+v.dx)]
			}
		}
	}
}

// Outputs are a model's evaluation-mode outputs on a data set, image by image.
type Outputs struct {
	N, Classes, FeatureDim int
	Z1, Z2                 []float32 // logits of head 1 and head 2, N × Classes
	Features               []float32 // N × FeatureDim when asked for
}

// Logits returns image i's logits of head h (0 or 1).
func (o *Outputs) Logits(h, i int) []float32 {
	z := o.Z1
	if h == 1 {
		z = o.Z2
	}
	return z[i*o.Classes : (i+1)*o.Classes]
}

// Accuracy is the fraction of images whose arg-max logit is the label, per head.
func (o *Outputs) Accuracy(labels []int) []float64 { return o.AccuracyRange(labels, 0, len(labels)) }

// AccuracyRange is Accuracy over images lo to hi − 1.
func (o *Outputs) AccuracyRange(labels []int, lo, hi int) []float64 {
	acc := make([]float64, 2)
	for h := 0; h < 2; h++ {
		right := 0
		for i := lo; i < hi; i++ {
			if Argmax(o.Logits(h, i)) == labels[i] {
				right++
			}
		}
		acc[h] = float64(right) / float64(hi-lo)
	}
	return acc
}

// Predict runs the model in evaluation mode over a data set. The last batch
// is padded (evaluation-mode networks treat images independently).
func Predict(ctx context.Context, m *Model, ds Source, o PredictOptions) (*Outputs, error) {
	if o.Batch <= 0 {
		o.Batch = 256
	}
	n := ds.Len()
	batch := min(o.Batch, n)
	if batch == 0 {
		return &Outputs{Classes: m.Classes, FeatureDim: m.FeatureDim()}, nil
	}
	views, err := ttaViews(o.TTA)
	if err != nil {
		return nil, err
	}
	if o.TTA > 0 && o.Features {
		return nil, fmt.Errorf("nets: Predict: features with TTA")
	}
	prog, err := m.EvalProgram(batch)
	if err != nil {
		return nil, err
	}
	defer prog.Close()
	out := &Outputs{N: n, Classes: m.Classes, FeatureDim: m.FeatureDim(),
		Z1: make([]float32, n*m.Classes), Z2: make([]float32, n*m.Classes)}
	if o.Features {
		out.Features = make([]float32, n*m.FeatureDim())
	}
	bar := o.Progress.Start("evaluate "+ds.Name(), int64(n), "img")
	defer bar.Finish()
	idx := make([]int, batch)
	var clean []float32
	if o.TTA > 0 {
		clean = make([]float32, len(prog.Input()))
	}
	for b0 := 0; b0 < n; b0 += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := min(batch, n-b0)
		for i := range idx {
			idx[i] = b0 + min(i, k-1) // pad with the last image
		}
		if o.TTA == 0 {
			ds.Fill(prog.Input(), nil, idx, nil, 0)
			if err := prog.Run(); err != nil {
				return nil, err
			}
			z1, z2 := prog.Logits()
			copy(out.Z1[b0*m.Classes:], z1[:k*m.Classes])
			copy(out.Z2[b0*m.Classes:], z2[:k*m.Classes])
			if o.Features {
				copy(out.Features[b0*m.FeatureDim():], prog.Features()[:k*m.FeatureDim()])
			}
			bar.Add(k)
			continue
		}
		ds.Fill(clean, nil, idx, nil, 0)
		for _, v := range views {
			v.apply(prog.Input(), clean)
			if err := prog.Run(); err != nil {
				return nil, err
			}
			z1, z2 := prog.Logits()
			for i := range k * m.Classes {
				out.Z1[b0*m.Classes+i] += v.w * z1[i]
				out.Z2[b0*m.Classes+i] += v.w * z2[i]
			}
		}
		bar.Add(k)
	}
	return out, nil
}
