package nets

import (
	"fmt"
	"math"
)

// SGD is stochastic gradient descent with momentum and L2 weight decay, with
// PyTorch's torch.optim.SGD semantics, which the MCD authors and the
// DenseNet/WRN recipes use:
//
//	d = g + wd·w;  v = μ·v + d;  w −= lr·(nesterov ? d + μ·v : v)
//
// (Stock gorgonia's Momentum decays the velocity rather than the weights, and
// its gradients accumulate across runs.)
type SGD struct {
	Momentum    float64
	WeightDecay float64
	Nesterov    bool

	velocity map[string][]float32
}

// NewSGD makes an optimiser; the learning rate is given at each step.
func NewSGD(momentum, weightDecay float64, nesterov bool) *SGD {
	return &SGD{Momentum: momentum, WeightDecay: weightDecay, Nesterov: nesterov, velocity: map[string][]float32{}}
}

// Step updates params in place from their gradients at learning rate lr.
func (o *SGD) Step(lr float64, params []*Param, grads [][]float32) error {
	return o.StepDecay(lr, o.WeightDecay, params, grads)
}

// StepDecay is Step with weight decay wd instead of the optimiser's (a
// parameter group's, as in torch.optim.SGD's param_groups).
func (o *SGD) StepDecay(lr, wd float64, params []*Param, grads [][]float32) error {
	if len(params) != len(grads) {
		return fmt.Errorf("nets: SGD step with %d parameters and %d gradients", len(params), len(grads))
	}
	mu, decay, rate := float32(o.Momentum), float32(wd), float32(lr)
	for i, p := range params {
		w, g := p.Data(), grads[i]
		if len(w) != len(g) {
			return fmt.Errorf("nets: gradient of %s has %d values, want %d", p.Name, len(g), len(w))
		}
		v := o.velocity[p.Name]
		if v == nil && mu != 0 {
			v = make([]float32, len(w))
			o.velocity[p.Name] = v
		}
		parallel(len(w), func(_, lo, hi int) {
			for j := lo; j < hi; j++ {
				d := g[j] + decay*w[j]
				if mu != 0 {
					v[j] = mu*v[j] + d
					if o.Nesterov {
						d += mu * v[j]
					} else {
						d = v[j]
					}
				}
				w[j] -= rate * d
			}
		})
	}
	return nil
}

// Schedule gives the learning rate at a (fractional) epoch.
type Schedule interface {
	LR(epoch float64) float64
}

// Constant is a fixed learning rate (the MCD fine-tuning uses 0.01).
type Constant float64

func (c Constant) LR(float64) float64 { return float64(c) }

// StepDecay multiplies Base by Gamma at each milestone epoch, as the DenseNet
// (×0.1 at 50% and 75% of training) and WRN (×0.2 at 60, 120, 160) recipes.
type StepDecay struct {
	Base       float64
	Gamma      float64
	Milestones []float64
}

func (s StepDecay) LR(epoch float64) float64 {
	lr := s.Base
	for _, m := range s.Milestones {
		if epoch >= m {
			lr *= s.Gamma
		}
	}
	return lr
}

// Cosine anneals from Base to 0 over Epochs (Loshchilov & Hutter, ICLR 2017),
// after a linear warm-up from 0 over Warmup epochs.
type Cosine struct {
	Base, Epochs, Warmup float64
}

func (c Cosine) LR(epoch float64) float64 {
	if epoch < c.Warmup {
		return c.Base * epoch / c.Warmup
	}
	t := (epoch - c.Warmup) / math.Max(c.Epochs-c.Warmup, 1e-9)
	return c.Base * 0.5 * (1 + math.Cos(math.Pi*math.Min(t, 1)))
}

// OneCycle rises linearly from Start·Peak to Peak at PeakAt, then falls
// linearly to End·Peak at Epochs: with Start = End = 0 the schedule Page
// (2018) used to train ResNet-9 in few epochs, with Start 0.2, End 0.07 and
// the peak at 23% of training airbench's triangle.
type OneCycle struct {
	Peak, PeakAt, Epochs float64
	Start, End           float64 // fractions of Peak at epochs 0 and Epochs
}

func (c OneCycle) LR(epoch float64) float64 {
	switch {
	case epoch < c.PeakAt:
		return c.Peak*c.Start + c.Peak*(1-c.Start)*epoch/c.PeakAt
	case epoch < c.Epochs:
		return c.Peak*c.End + c.Peak*(1-c.End)*(c.Epochs-epoch)/(c.Epochs-c.PeakAt)
	}
	return c.Peak * c.End
}
