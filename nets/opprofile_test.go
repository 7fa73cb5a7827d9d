package nets

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// profilePair runs the same program of two identical models, one with its
// ops profiled into ph, for steps steps (with SGD when train), and fails
// unless every output, gradient and parameter is the same floats.
func profilePair(t *testing.T, spec string, build func(*Model) (*Program, error), train bool, ph *OpPhase, steps int) {
	t.Helper()
	s, err := ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	var progs [2]*Program
	var models [2]*Model
	for i := range progs {
		if models[i], err = New(s, 10, 1); err != nil {
			t.Fatal(err)
		}
		if progs[i], err = build(models[i]); err != nil {
			t.Fatal(err)
		}
		defer progs[i].Close()
		rng := rand.New(rand.NewPCG(3, 4))
		copy(progs[i].Input(), randSlice(rng, len(progs[i].Input())))
		for j := range progs[i].Labels() {
			progs[i].Labels()[j] = float32(rng.IntN(10))
		}
	}
	opts := [2]*SGD{NewSGD(0.9, 1e-4, false), NewSGD(0.9, 1e-4, false)}
	profiled := false
	run := func(i int) error {
		if err := progs[i].Run(); err != nil || !train {
			return err
		}
		sgd := func() error { return opts[i].Step(0.01, progs[i].Params(), progs[i].Grads()) }
		if i == 0 || !profiled {
			return sgd()
		}
		return ph.Time("sgd", sgd)
	}
	// One step before profiling, as mcdood bench does (ProfileOps recompiles).
	for i := range progs {
		if err := run(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := progs[1].ProfileOps(ph); err != nil {
		t.Fatal(err)
	}
	profiled = true
	for range steps {
		if err := run(0); err != nil {
			t.Fatal(err)
		}
		if err := ph.Step(func() error { return run(1) }); err != nil {
			t.Fatal(err)
		}
		off, on := progs[0], progs[1]
		z1, z2 := off.Logits()
		w1, w2 := on.Logits()
		if !slices.Equal(z1, w1) || !slices.Equal(z2, w2) || off.inputGrad != nil && !slices.Equal(off.InputGrad(), on.InputGrad()) {
			t.Fatalf("%s: outputs differ with profiling on", spec)
		}
		for j, g := range off.Grads() {
			if !slices.Equal(g, on.Grads()[j]) || !slices.Equal(off.Params()[j].Data(), on.Params()[j].Data()) {
				t.Fatalf("%s: gradient or parameter %s differs with profiling on", spec, off.Params()[j].Name)
			}
		}
	}
}

// TestOpProfile checks that profiling ops changes no float, counts each
// op's calls, FLOPs and time, and leaves the rest of the step to "other".
func TestOpProfile(t *testing.T) {
	const batch, steps = 4, 3
	var prof OpProfile
	train := prof.Phase("training step", batch)
	profilePair(t, "small", func(m *Model) (*Program, error) { return m.TrainProgram(batch, 0) }, true, train, steps)
	eval := prof.Phase("inference", batch)
	profilePair(t, "small", func(m *Model) (*Program, error) { return m.EvalProgram(batch) }, false, eval, steps)
	grad := prof.Phase("input gradient", batch)
	profilePair(t, "small", func(m *Model) (*Program, error) { return m.InputGradProgram(batch, 1000, HeadsMean) }, false, grad, steps)

	// The small net: three 3×3 convolutions 3→32 (32×32), 32→64 and 64→128
	// (strides 2), each with BN-ReLU, global pooling, two linear heads.
	fwd := 2 * batch * float64(32*1024*27+64*256*288+128*64*576)
	for _, tc := range []struct {
		ph    *OpPhase
		row   string
		calls int
		flops float64
	}{
		{train, "conv fwd", 3, fwd},
		{train, "conv bwd-weight", 3, fwd},
		{train, "conv bwd-data", 2, fwd - 2*batch*32*1024*27}, // not the images'
		{train, "bn fwd", 3, 0},
		{train, "bn bwd", 3, 0},
		{train, "linear fwd", 2, 2 * 2 * batch * 128 * 10},
		{train, "sgd", 1, 0},
		{eval, "conv+bn fwd", 3, fwd},
		{eval, "bn fwd (fused in conv)", 3, 0},
		{eval, "pool fwd", 1, 0},
		{grad, "conv bwd-data", 3, fwd},
		// The input-gradient pass computes no parameter gradient
		// (skipParamGrads).
		{grad, "conv bwd-weight", 0, 0},
		{grad, "linear bwd-weight", 0, 0},
		{grad, "linear bwd-bias", 0, 0},
	} {
		r := tc.ph.byName[tc.row]
		if tc.calls == 0 {
			if r != nil {
				t.Errorf("%s: unexpected row %q", tc.ph.Name, tc.row)
			}
			continue
		}
		if r == nil || r.Calls != tc.calls*steps || r.FLOPs != tc.flops*steps || r.Time <= 0 {
			t.Errorf("%s, %s: %+v, want %d calls and %g FLOPs per step over %d steps", tc.ph.Name, tc.row, r, tc.calls, tc.flops, steps)
		}
	}
	for _, ph := range prof.Phases {
		var timed time.Duration
		for _, r := range ph.Rows() {
			timed += r.Time
		}
		if ph.Steps != steps || timed <= 0 || timed > ph.Elapsed {
			t.Errorf("%s: %d steps, ops %v of %v: want %d steps and the ops within the step", ph.Name, ph.Steps, timed, ph.Elapsed, steps)
		}
	}
	if got := eval.FLOPsPerImage(); got != (fwd+2*2*batch*128*10)/batch {
		t.Errorf("forward FLOPs per image %g", got)
	}
	var b strings.Builder
	prof.WriteTable(&b)
	t.Log(b.String())
	for _, want := range []string{"training step, batch 4:", "conv bwd-weight", "other (gorgonia's ops, dispatch)", "total", "100.0%", "GFLOP/s", "GB/s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestOpProfileDenseBlock checks the same on a DenseNet-BC, whose dense
// blocks are one op each.
func TestOpProfileDenseBlock(t *testing.T) {
	var prof OpProfile
	ph := prof.Phase("training step", 2)
	profilePair(t, "densenet-bc-10-4", func(m *Model) (*Program, error) { return m.TrainProgram(2, 0) }, true, ph, 2)
	grad := prof.Phase("input gradient", 2)
	profilePair(t, "densenet-bc-10-4", func(m *Model) (*Program, error) { return m.InputGradProgram(2, 1000, HeadsMean) }, false, grad, 2)
	// A training step's backward pass multiplies twice what the forward
	// pass does (input and weight gradients); ODIN's, the input gradients
	// only, as much.
	for _, tc := range []struct {
		ph     *OpPhase
		perFwd float64
	}{{ph, 2}, {grad, 1}} {
		fwd, bwd := tc.ph.byName["dense-block fwd"], tc.ph.byName["dense-block bwd"]
		for _, r := range []*OpRow{fwd, bwd} {
			if r == nil || r.Calls != 3*2 || r.FLOPs <= 0 {
				t.Fatalf("%s: %+v, want 3 calls per step with FLOPs", tc.ph.Name, r)
			}
		}
		if bwd.FLOPs != tc.perFwd*fwd.FLOPs {
			t.Errorf("%s: dense-block bwd counts %g FLOPs, want %g × the forward pass's %g", tc.ph.Name, bwd.FLOPs, tc.perFwd, fwd.FLOPs)
		}
	}
}

// TestOpProfileThroughput checks that mcdood bench --ops profiles its three
// phases.
func TestOpProfileThroughput(t *testing.T) {
	spec, err := ParseSpec("small")
	if err != nil {
		t.Fatal(err)
	}
	var prof OpProfile
	if _, err := MeasureThroughput(spec, ThroughputConfig{Batch: 4, MinIters: 1, Ops: &prof}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ph := range prof.Phases {
		names = append(names, ph.Name)
		if ph.Steps < 1 || ph.Rate <= 0 || len(ph.Rows()) == 0 {
			t.Errorf("%s: %d steps at %v img/s, %d rows", ph.Name, ph.Steps, ph.Rate, len(ph.Rows()))
		}
	}
	if want := []string{"training step", "inference", "input gradient"}; !slices.Equal(names, want) {
		t.Errorf("phases %v, want %v", names, want)
	}
}
