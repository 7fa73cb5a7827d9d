package mcd

import (
	"math/rand/v2"
	"runtime/debug"
	"testing"
	"time"

	"github.com/mcdood/mcdood/nets"
)

// benchStep times one MCD fine-tuning step (Step A on a labelled batch,
// Step B on it again and an unlabelled batch, each with its SGD update;
// Yu & Aizawa, ICCV 2019, Sec. 3.2) against one pre-training step of the
// same labelled batch, alternating the two in every iteration so that both
// see the machine in the same state. The "train-steps" metric is their
// ratio: three forward-backward passes of a batch would make it 3, plus
// what Step B's entropy terms and the second update add.
func benchStep(b *testing.B, name string, batch int) {
	// The CLI's GC target (nets.GCPercent): at Go's default of 100 WRN's
	// programs would hold twice their 15 GB.
	defer debug.SetGCPercent(debug.SetGCPercent(nets.GCPercent))
	spec, err := nets.ParseSpec(name)
	if err != nil {
		b.Fatal(err)
	}
	m, err := nets.New(spec, 10, 1)
	if err != nil {
		b.Fatal(err)
	}
	train, err := m.TrainProgram(batch, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer train.Close()
	a, err := newStepA(m, batch)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	bb, err := newStepB(m, batch, batch, Defaults.Margin)
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, x := range [][]float32{train.Input(), a.Data(a.x), bb.Data(bb.x), bb.Data(bb.u)} {
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
	}
	for _, y := range [][]float32{train.Labels(), a.Data(a.y), bb.Data(bb.y)} {
		for i := range y {
			y[i] = float32(i % 10)
		}
	}
	opt := nets.NewSGD(Defaults.Momentum, Defaults.WeightDecay, false)
	run := func(p *nets.Program) {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
		if err := opt.Step(Defaults.LR, p.Params(), p.Grads()); err != nil {
			b.Fatal(err)
		}
	}
	run(train)
	run(a.Program)
	run(bb.Program)
	var tTrain, tMCD time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		run(train)
		t1 := time.Now()
		run(a.Program)
		run(bb.Program)
		tTrain, tMCD = tTrain+t1.Sub(t0), tMCD+time.Since(t1)
	}
	b.ReportMetric(tMCD.Seconds()*1e3/float64(b.N), "ms/mcd-step")
	b.ReportMetric(tTrain.Seconds()*1e3/float64(b.N), "ms/train-step")
	b.ReportMetric(tMCD.Seconds()/tTrain.Seconds(), "train-steps")
}

// The default network and DenseNet-BC-100 at the authors' batch of 128 +
// 128; WRN-28-10 at 64 + 64, because its three programs at 128 would hold
// about 30 GB. The paper's networks are slow: run them with -benchtime 2x.
func BenchmarkStepResNet9x16(b *testing.B) { benchStep(b, "resnet9-16", 128) }
func BenchmarkStepDenseNet(b *testing.B)   { benchStep(b, "densenet-bc-100", 128) }
func BenchmarkStepWRN(b *testing.B)        { benchStep(b, "wrn-28-10", 64) }
