package nets

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestExportForTorch writes an airbench network, a batch and what this
// engine computes of them — evaluation logits, the training step's loss
// and every gradient — for scripts/torch_check.py, which recomputes them in
// PyTorch. It runs only when MCDOOD_TORCH_CHECK names a folder (PyTorch is
// not part of the test environment).
func TestExportForTorch(t *testing.T) {
	dir := os.Getenv("MCDOOD_TORCH_CHECK")
	if dir == "" {
		t.Skip("MCDOOD_TORCH_CHECK not set")
	}
	const name, batch = "airbench-16-32-32", 8
	m := newModel(t, name)
	src := toyData(64, 10, 3)
	if err := m.InitFromData(src); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for _, p := range m.Params() { // move the shifts off zero
		if p.Role != Trained && p.Role != Frozen {
			for i := range p.Data() {
				p.Data()[i] = float32(rng.NormFloat64() * 0.1)
			}
		}
	}
	for _, s := range m.bn {
		for i := range s.Mean {
			s.Mean[i], s.Var[i] = float32(rng.NormFloat64()*0.1), 1+float32(rng.Float64())
		}
	}
	out := map[string]any{"net": name, "batch": batch}
	params := map[string][]float32{}
	shapes := map[string][]int{}
	for _, p := range m.Params() {
		params[p.Name] = append([]float32(nil), p.Data()...)
		shapes[p.Name] = p.Value.Shape().Clone()
	}
	stats := map[string][2][]float32{}
	for name, s := range m.bn {
		stats[name] = [2][]float32{append([]float32(nil), s.Mean...), append([]float32(nil), s.Var...)}
	}
	out["params"], out["shapes"], out["bn"] = params, shapes, stats
	x := randSlice(rng, batch*ImageSize)
	labels := make([]float32, batch)
	for i := range labels {
		labels[i] = float32(rng.IntN(10))
	}
	out["x"], out["y"] = x, labels

	ev, err := m.EvalProgram(batch)
	if err != nil {
		t.Fatal(err)
	}
	copy(ev.Input(), x)
	if err := ev.Run(); err != nil {
		t.Fatal(err)
	}
	z1, z2 := ev.Logits()
	out["eval_z1"], out["eval_z2"] = append([]float32(nil), z1...), append([]float32(nil), z2...)

	tp, err := m.TrainProgram(batch, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	copy(tp.Input(), x)
	copy(tp.Labels(), labels)
	if err := tp.Run(); err != nil {
		t.Fatal(err)
	}
	out["train_loss"] = tp.Loss()
	grads := map[string][]float32{}
	for i, p := range tp.Params() {
		grads[p.Name] = append([]float32(nil), tp.Grads()[i]...)
	}
	out["grads"] = grads
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "airbench.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
