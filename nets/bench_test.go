package nets

import (
	"math/rand/v2"
	"testing"
)

func benchTrain(b *testing.B, name string, batch int) {
	p, err := newModel(b, name).TrainProgram(Supervised, batch, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	copy(p.Input(), randSlice(rng, len(p.Input())))
	for i := range p.Labels() {
		p.Labels()[i] = float32(rng.IntN(10))
	}
	opt := NewSGD(0.9, 1e-4, false)
	step := func() {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
		if err := opt.Step(0.01, p.Params(), p.Grads()); err != nil {
			b.Fatal(err)
		}
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

func benchInfer(b *testing.B, name string, batch int) {
	p, err := newModel(b, name).EvalProgram(batch)
	if err != nil {
		b.Fatal(err)
	}
	p.Run()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkTrainSmall(b *testing.B)    { benchTrain(b, "small", 128) }
func BenchmarkInferSmall(b *testing.B)    { benchInfer(b, "small", 128) }
func BenchmarkTrainDenseNet(b *testing.B) { benchTrain(b, "densenet-bc-100", 64) }
func BenchmarkInferDenseNet(b *testing.B) { benchInfer(b, "densenet-bc-100", 64) }

func BenchmarkTrainResNet9x16(b *testing.B) { benchTrain(b, "resnet9-16", 128) }
