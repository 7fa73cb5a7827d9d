package mcd

import (
	"context"
	"math/rand/v2"
	"sort"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// The batch samplers of fine-tuning. Labelled batches, and unlabelled ones
// by default, come in passes over their set, each pass in a new random
// order, as the authors' shuffling loaders; a pass's last incomplete batch
// is dropped (the authors' loader keeps it as a smaller batch: 391 steps an
// epoch of 50,000 images at 128 against our 390). pool_sampling "discrepancy", a study variant, draws the
// unlabelled batches with replacement, weighted by discrepancy.

// passSampler draws batches in passes over n images; each pass's order
// derives from the seed and the pass's number, so that a checkpoint need
// only hold the position and the number of passes begun.
type passSampler struct {
	seed      uint64
	n, batch  int
	order     []int
	pos, pass int // position in the current pass; passes begun
}

func newPassSampler(seed uint64, n, batch int) *passSampler {
	return &passSampler{seed: seed, n: n, batch: batch}
}

// next returns the indices of the next batch.
func (s *passSampler) next() []int {
	if s.pos+s.batch > len(s.order) {
		s.order = rand.New(rand.NewPCG(s.seed, uint64(s.pass))).Perm(s.n)
		s.pass++
		s.pos = 0
	}
	idx := s.order[s.pos : s.pos+s.batch]
	s.pos += s.batch
	return idx
}

// resume puts the sampler at position pos of its pass-th pass.
func (s *passSampler) resume(pos, passes int) {
	s.pos, s.pass = pos, passes
	if passes > 0 {
		s.order = rand.New(rand.NewPCG(s.seed, uint64(passes-1))).Perm(s.n)
	}
}

// poolSampler draws unlabelled batches: in passes (pool_sampling
// "uniform", the authors'), or, once weighted, with replacement in
// proportion to weights set at the start of every epoch ("discrepancy").
type poolSampler struct {
	*passSampler
	cumulative []float64 // the epoch's cumulative weights; nil in passes
	src        *rand.PCG
	rng        *rand.Rand
}

// weight makes the sampler draw in proportion to weights (cumulative) for
// an epoch, from a generator seeded from the epoch.
func (s *poolSampler) weight(cumulative []float64, seed uint64, epoch int) {
	s.cumulative, s.src = cumulative, rand.NewPCG(seed, uint64(epoch))
	s.rng = rand.New(s.src)
}

// resumeWeighted restores a weighted epoch's weights and generator state.
func (s *poolSampler) resumeWeighted(cumulative []float64, state []byte) error {
	s.cumulative, s.src = cumulative, &rand.PCG{}
	if err := s.src.UnmarshalBinary(state); err != nil {
		return err
	}
	s.rng = rand.New(s.src)
	return nil
}

// next returns the indices of the next batch.
func (s *poolSampler) next() []int {
	if s.cumulative == nil {
		return s.passSampler.next()
	}
	idx := make([]int, s.batch)
	total := s.cumulative[len(s.cumulative)-1]
	for i := range idx {
		idx[i] = sort.SearchFloat64s(s.cumulative, s.rng.Float64()*total)
	}
	return idx
}

// discrepancyWeights are cumulative sampling weights of the pool for
// pool_sampling "discrepancy": each image's L1 discrepancy plus a tenth of
// the mean.
func discrepancyWeights(ctx context.Context, env *ood.Env, m *nets.Model, pool *loaders.Dataset) ([]float64, error) {
	scores, err := Discrepancy(ctx, env, m, pool)
	if err != nil {
		return nil, err
	}
	var mean float64
	for _, s := range scores {
		mean -= s / float64(len(scores))
	}
	cum := make([]float64, len(scores))
	var total float64
	for i, s := range scores {
		total += -s + 0.1*mean + 1e-12
		cum[i] = total
	}
	return cum, nil
}
