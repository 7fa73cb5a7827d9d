package nets

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// fillBatch puts random images and labels into a program's inputs.
func fillBatch(p *Program, rng *rand.Rand, classes int) {
	for i := range p.Input() {
		p.Input()[i] = float32(rng.NormFloat64())
	}
	for i := range p.Labels() {
		p.Labels()[i] = float32(rng.IntN(classes))
	}
	for i := range p.Unlabelled() {
		p.Unlabelled()[i] = float32(rng.NormFloat64())
	}
}

// TestTwoHeadNetworkGradients checks a whole two-head network end to end
// against finite differences: parameter gradients of the pre-training loss
// and of both MCD fine-tuning steps (training-mode BN), and the input
// gradient ODIN uses (evaluation-mode BN, temperature 1000, both heads).
func TestTwoHeadNetworkGradients(t *testing.T) {
	spec, _ := ParseSpec("small")
	m, err := New(spec, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	// loss reads the objective whose gradient is checked: the whole loss, or
	// for the extractor in Step A only CE1 (CE2 sees detached features).
	check := func(name string, p *Program, loss func() float64, grad []float32, values []float32, h, atol, rtol float64, picks int) {
		t.Helper()
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		analytic := append([]float32(nil), grad...)
		bad := 0
		for _, j := range rng.Perm(len(values))[:picks] {
			old := values[j]
			values[j] = old + float32(h)
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			lp := loss()
			values[j] = old - float32(h)
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			lm := loss()
			values[j] = old
			numeric := (lp - lm) / (2 * h)
			if d := math.Abs(float64(analytic[j]) - numeric); d > atol+rtol*math.Abs(numeric) {
				bad++
				if bad <= 5 {
					t.Errorf("%s: element %d: analytic %.6g, finite difference %.6g", name, j, analytic[j], numeric)
				}
			}
		}
	}
	for _, kind := range []TrainKind{Supervised, StepA, StepB} {
		p, err := m.TrainProgram(kind, 6, 5, 1.2)
		if err != nil {
			t.Fatal(err)
		}
		fillBatch(p, rng, 5)
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		grads := p.Grads()
		for i, par := range p.Params() {
			// Every conv, BN and head parameter tensor, a few elements each.
			n := min(4, len(par.Data()))
			loss := p.Loss
			if kind == StepA && !strings.HasPrefix(par.Name, "head") {
				loss = func() float64 { return p.LossParts()[0] }
			}
			check(kind.String()+" "+par.Name, p, loss, grads[i], par.Data(), 1e-2, 3e-3, 3e-2, n)
		}
		p.Close()
	}
	ig, err := m.InputGradProgram(4, 1000, HeadsMean)
	if err != nil {
		t.Fatal(err)
	}
	fillBatch(ig, rng, 5)
	if err := ig.Run(); err != nil {
		t.Fatal(err)
	}
	check("input gradient T=1000", ig, ig.Loss, ig.InputGrad(), ig.Input(), 1, 1e-6, 3e-2, 30)
}

// TestStepAStopsGradient checks Step A: head 2's loss must not reach the
// extractor, so the extractor's gradient equals the one from CE1 alone.
func TestStepAStopsGradient(t *testing.T) {
	spec, _ := ParseSpec("small")
	m, err := New(spec, 4, 9)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.TrainProgram(StepA, 5, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.TrainProgram(Supervised, 5, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fillBatch(a, rng, 4)
	copy(s.Input(), a.Input())
	copy(s.Labels(), a.Labels())
	if err := a.Run(); err != nil {
		t.Fatal(err)
	}
	ga := a.Grads()
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	gs := s.Grads()
	differs := false
	for i, p := range a.Params() {
		if p.Name == "conv1.w" {
			for j := range ga[i] {
				if ga[i][j] != gs[i][j] {
					differs = true
				}
			}
		}
		if p.Name == "head2.w" || p.Name == "head1.w" {
			for j := range ga[i] {
				if math.Abs(float64(ga[i][j]-gs[i][j])) > 1e-6 {
					t.Errorf("%s gradient differs between step A and supervised: %g vs %g", p.Name, ga[i][j], gs[i][j])
					break
				}
			}
		}
	}
	if !differs {
		t.Error("step A extractor gradient equals the supervised one: head 2's loss reached the extractor")
	}
}
