package baselines

import (
	"context"
	"fmt"
	"slices"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// The perturbed-softmax engine that ODIN (odin.go) and ELOC (eloc.go)
// share: an image's softmax at temperature T after ODIN's input
// perturbation of size ε (Liang et al., ICLR 2018), turned into a score,
// for a grid of T and ε.

// odinKey names the scores of one image set in Env.Memo: tuning for every
// OOD set of a cell group repeats the ID validation images.
type odinKey struct {
	model  *nets.Model
	images *loaders.Dataset
	heads  nets.HeadMode
	t, eps float64
	score  string
}

// softmaxScore turns an image's class probabilities into a score: ODIN's is
// their maximum.
type softmaxScore struct {
	name string // the detector's, in Memo keys and progress lines
	f    func(p []float64) float64
}

// perturbedScores returns, for each temperature t and each ε, score of the
// softmax at t of images perturbed by ε under model m: per batch one
// forward pass gives the logits from which every T's predicted labels and
// scores at ε = 0 follow, then for each T one input-gradient pass and one
// forward pass per ε > 0 on the perturbed images. Scores in env.Memo are
// reused (and copied, so that no caller shares a slice with another).
func perturbedScores(ctx context.Context, env *ood.Env, m *nets.Model, images *loaders.Dataset, heads nets.HeadMode, temps, epsilons []float64, score softmaxScore) ([][][]float64, error) {
	r := &perturbedRun{env: env, m: m, images: images, heads: heads, temps: temps, epsilons: epsilons, score: score}
	if !r.recall() {
		return r.out, nil
	}
	n := images.Len()
	batch := min(env.Batch, n)
	if batch <= 0 {
		batch = min(128, n)
	}
	defer r.close()
	if err := r.compile(batch); err != nil {
		return nil, err
	}
	bar := env.Progress.Start(fmt.Sprintf("%s %s", score.name, images.Name), int64(n), "img")
	defer bar.Finish()
	idx := make([]int, batch)
	for b0 := 0; b0 < n; b0 += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cnt := min(batch, n-b0)
		for i := range idx {
			idx[i] = b0 + min(i, cnt-1) // pad with the last image
		}
		images.Fill(r.clean, nil, idx, env.Norm, nil, nil)
		if err := r.cleanPass(b0, cnt); err != nil {
			return nil, err
		}
		if err := r.perturbedPasses(b0, cnt); err != nil {
			return nil, err
		}
		bar.Add(cnt)
	}
	r.remember()
	return r.out, nil
}

// perturbedRun is perturbedScores at work on one image set.
type perturbedRun struct {
	env             *ood.Env
	m               *nets.Model
	images          *loaders.Dataset
	heads           nets.HeadMode
	temps, epsilons []float64
	score           softmaxScore

	out  [][][]float64 // by T, by ε, by image
	todo []gridPoint   // the (T, ε) not in the memo

	grads            []*nets.Program // by T: input gradients; nil when no ε > 0 is to do
	eval             *nets.Program
	clean            []float32   // the batch, unperturbed
	cleanZ1, cleanZ2 []float32   // its logits
	labels           [][]float32 // by T: its predicted labels
	p, tmp           []float64
	outs             *nets.Outputs
}

// gridPoint indexes a temperature and an ε.
type gridPoint struct{ j, k int }

// recall takes the scores in the memo and says whether any are left to
// compute.
func (r *perturbedRun) recall() bool {
	r.out = make([][][]float64, len(r.temps))
	for j, t := range r.temps {
		r.out[j] = make([][]float64, len(r.epsilons))
		for k, eps := range r.epsilons {
			if v, ok := r.env.Memo.Get(odinKey{r.m, r.images, r.heads, t, eps, r.score.name}); ok {
				r.out[j][k] = slices.Clone(v.([]float64))
			} else {
				r.todo = append(r.todo, gridPoint{j, k})
			}
		}
	}
	return len(r.todo) > 0
}

// remember puts the scores computed in the memo.
func (r *perturbedRun) remember() {
	for _, e := range r.todo {
		r.env.Memo.Put(odinKey{r.m, r.images, r.heads, r.temps[e.j], r.epsilons[e.k], r.score.name}, slices.Clone(r.out[e.j][e.k]))
	}
}

// compile compiles the programs for batches of the given size (an
// input-gradient program for each T with an ε > 0 to do, and the
// evaluation program) and allocates the buffers.
func (r *perturbedRun) compile(batch int) error {
	m := r.m
	r.grads = make([]*nets.Program, len(r.temps))
	for j, t := range r.temps {
		if !slices.ContainsFunc(r.todo, func(e gridPoint) bool { return e.j == j && r.epsilons[e.k] > 0 }) {
			continue
		}
		g, err := m.InputGradProgram(batch, t, r.heads)
		if err != nil {
			return err
		}
		r.grads[j] = g
	}
	var err error
	if r.eval, err = m.EvalProgram(batch); err != nil {
		return err
	}
	for _, e := range r.todo {
		r.out[e.j][e.k] = make([]float64, r.images.Len())
	}
	r.clean = make([]float32, batch*nets.ImageSize)
	r.cleanZ1, r.cleanZ2 = make([]float32, batch*m.Classes), make([]float32, batch*m.Classes)
	r.labels = make([][]float32, len(r.temps))
	for j := range r.labels {
		r.labels[j] = make([]float32, batch)
	}
	r.p, r.tmp = make([]float64, m.Classes), make([]float64, m.Classes)
	r.outs = &nets.Outputs{Classes: m.Classes, N: batch}
	return nil
}

func (r *perturbedRun) close() {
	if r.eval != nil {
		r.eval.Close()
	}
	for _, g := range slices.Backward(r.grads) {
		if g != nil {
			g.Close()
		}
	}
}

// cleanPass runs the batch of cnt images at b0 (padded) unperturbed: one
// forward pass serves every T, with the predicted labels and the scores
// at ε = 0.
func (r *perturbedRun) cleanPass(b0, cnt int) error {
	copy(r.eval.Input(), r.clean)
	if err := r.eval.Run(); err != nil {
		return err
	}
	z1, z2 := r.eval.Logits()
	copy(r.cleanZ1, z1)
	copy(r.cleanZ2, z2)
	r.outs.Z1, r.outs.Z2 = r.cleanZ1, r.cleanZ2
	for j, t := range r.temps {
		for i := range r.labels[j] {
			// The label at T: with both heads averaged, the maximum of
			// the mean softmax can move with T.
			ood.HeadSoftmax(r.outs, i, r.heads, t, r.p, r.tmp)
			r.labels[j][i] = float32(nets.Argmax(r.p))
			if i >= cnt {
				continue
			}
			for _, e := range r.todo {
				if e.j == j && r.epsilons[e.k] == 0 {
					r.out[j][e.k][b0+i] = r.score.f(r.p)
				}
			}
		}
	}
	return nil
}

// perturbedPasses scores the batch perturbed by every ε > 0 to do: for
// each T one input-gradient pass at the predicted labels, then one forward
// pass per ε.
func (r *perturbedRun) perturbedPasses(b0, cnt int) error {
	for j, grad := range r.grads {
		if grad == nil {
			continue
		}
		copy(grad.Input(), r.clean)
		copy(grad.Labels(), r.labels[j])
		if err := grad.Run(); err != nil {
			return err
		}
		for _, e := range r.todo {
			if e.j != j || r.epsilons[e.k] == 0 {
				continue
			}
			odinPerturb(r.eval.Input(), r.clean, grad.InputGrad(), r.epsilons[e.k], r.env.Norm)
			if err := r.eval.Run(); err != nil {
				return err
			}
			r.outs.Z1, r.outs.Z2 = r.eval.Logits()
			for i := 0; i < cnt; i++ {
				ood.HeadSoftmax(r.outs, i, r.heads, r.temps[j], r.p, r.tmp)
				r.out[j][e.k][b0+i] = r.score.f(r.p)
			}
		}
	}
	return nil
}

// odinPerturb writes ODIN's perturbed batch into dst: x̃ = x − (ε/std_c)·s,
// where s = +1 where grad (the gradient of −log S_ŷ(x; T) with respect to
// the normalised input x) is ≥ 0 and −1 elsewhere, and std_c is the
// normalisation std of the pixel's channel, so that ε is in pixel units
// (Liang et al., ICLR 2018; the authors' code divides the signed gradient
// by the std the same way).
func odinPerturb(dst, x, grad []float32, eps float64, norm loaders.Normalization) {
	var step [nets.ImageChannels]float32
	for c := range step {
		step[c] = float32(eps) / norm.Std[c]
	}
	const plane = nets.ImageSide * nets.ImageSide
	for i, g := range grad[:len(x)] {
		s := step[(i/plane)%nets.ImageChannels]
		if g >= 0 {
			dst[i] = x[i] - s
		} else {
			dst[i] = x[i] + s
		}
	}
}
