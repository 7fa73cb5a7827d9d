package mcd

import (
	"github.com/mcdood/mcdood/nets"
)

// The two steps of MCD fine-tuning (Yu & Aizawa, ICCV 2019, Sec. 3.2; the
// authors' solver.train), on a network G with two classifier heads C1 and
// C2, a labelled batch (x, y) and an unlabelled batch u:
//
//	Step A:  CE(C1(G(x)), y) + CE(C2(detach(G(x))), y)
//	Step B:  CE(C1(G(x)), y) + CE(C2(G(x)), y) + max(0, m − (H̄(C1(G(u))) − H̄(C2(G(u)))))
//
// where H̄ is the entropy of a head's softmax averaged over the batch and m
// the margin (1.2 in the paper). Step A trains both heads on the labels,
// head 2 on detached features, so that the extractor learns through head 1
// only; Step B keeps both heads right on the labelled images while making
// head 1 uncertain and head 2 confident on the unlabelled ones, so that the
// heads come to disagree on out-of-distribution images — the score
// (Discrepancy) is that disagreement. Each step updates every parameter, as
// the authors' code does (Config.Train "all"; the study's variants
// "heads-in-b" and "heads" leave the extractor out of Step B, or of both).

// step is a compiled MCD step with its inputs and the parts of its loss.
type step struct {
	*nets.Program
	x, y, u          nets.Tensor // u is Step B's only
	ce1, ce2, margin nets.Tensor // margin is Step B's only
	u1, u2           nets.Tensor // Step B: the heads' logits on u
}

// newStepA compiles Step A for labelled batches of the given size.
func newStepA(m *nets.Model, batch int) (*step, error) {
	g := m.NewGraph(nets.Training)
	s := &step{x: g.Images(batch), y: g.Labels(batch)}
	f := g.Features(s.x)
	s.ce1 = g.CrossEntropy(g.Head(1, f), s.y)
	s.ce2 = g.CrossEntropy(g.Head(2, g.Detach(f)), s.y)
	var err error
	s.Program, err = g.Train(g.Sum(s.ce1, s.ce2))
	return s, err
}

// newStepB compiles Step B for labelled and unlabelled batches of the given
// sizes and margin m. G runs on the two batches separately, so that each
// is normalised with its own batch statistics, as in the authors' code.
func newStepB(m *nets.Model, batch, unlabelled int, margin float64) (*step, error) {
	g := m.NewGraph(nets.Training)
	s := &step{x: g.Images(batch), y: g.Labels(batch)}
	f := g.Features(s.x)
	s.ce1 = g.CrossEntropy(g.Head(1, f), s.y)
	s.ce2 = g.CrossEntropy(g.Head(2, f), s.y)
	s.u = g.Images(unlabelled)
	fu := g.Features(s.u)
	s.u1, s.u2 = g.Head(1, fu), g.Head(2, fu)
	s.margin = g.Hinge(margin, g.Sub(g.MeanEntropy(s.u1), g.MeanEntropy(s.u2)))
	var err error
	s.Program, err = g.Train(g.Sum(s.ce1, s.ce2, s.margin))
	return s, err
}

// losses are the parts of the last run's loss: CE1, CE2 and the margin
// term (0 for Step A).
func (s *step) losses() [3]float64 {
	l := [3]float64{s.Scalar(s.ce1), s.Scalar(s.ce2)}
	if s.u != (nets.Tensor{}) {
		l[2] = s.Scalar(s.margin)
	}
	return l
}
