package nets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMeasureThroughput(t *testing.T) {
	spec, err := ParseSpec("small")
	if err != nil {
		t.Fatal(err)
	}
	res, err := MeasureThroughput(spec, ThroughputConfig{Batch: 8, MinIters: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !(res.TrainRate > 0 && res.InferRate > 0 && res.InputGradRate > 0) || res.TrainSteps != 2 || res.Params == 0 || res.AllocPerStep <= 0 {
		t.Errorf("measurement %+v: want positive rates, 2 timed training steps, parameters and allocations", res)
	}
}

func TestThroughputWriteMemory(t *testing.T) {
	m := Throughput{Params: 1234, AllocPerStep: 2.5e6, RSSStart: 100e6, RSSEnd: 120e6, TrainSteps: 60,
		HeapStart: 50e6, HeapEnd: 50.04e6}
	var b strings.Builder
	m.WriteMemory(&b)
	want := "parameters 1234; training step: 2.50 MB allocated, RSS 100 MB → 120 MB over 60 steps; live heap 50.0 MB → 50.0 MB\n"
	if b.String() != want {
		t.Errorf("WriteMemory without steady samples:\n got %q\nwant %q", b.String(), want)
	}
	m.RSSSteadyMin, m.RSSSteadyMax = 110e6, 118e6
	b.Reset()
	m.WriteMemory(&b)
	if want := " over 60 steps (110–118 MB from step 50 on); live heap"; !strings.Contains(b.String(), want) {
		t.Errorf("WriteMemory with steady samples: %q, want it to contain %q", b.String(), want)
	}
}

func TestRatesMedian(t *testing.T) {
	for _, tc := range []struct {
		train, infer, inputGrad []float64
		want                    [3]float64
	}{
		{nil, nil, nil, [3]float64{0, 0, 0}},
		{[]float64{3, 1, 2}, []float64{10, 30, 20}, []float64{0, 0, 0}, [3]float64{2, 20, 0}},            // odd: the middle one
		{[]float64{4, 1, 3, 2}, []float64{1, 2, 3, 4}, []float64{8, 6, 7, 5}, [3]float64{2.5, 2.5, 6.5}}, // even: mean of the middle two
	} {
		var r Rates
		for i := range tc.train {
			r.Add(tc.train[i], tc.infer[i], tc.inputGrad[i])
		}
		if tr, inf, ig := r.Median(); tr != tc.want[0] || inf != tc.want[1] || ig != tc.want[2] {
			t.Errorf("Rates{%v, %v, %v}.Median() = %v, %v, %v; want %v", tc.train, tc.infer, tc.inputGrad, tr, inf, ig, tc.want)
		}
		if len(tc.train) > 0 && tc.train[0] != r.Train[0] {
			t.Errorf("Median reordered the rates: %v", r.Train)
		}
	}
}

func TestProfileCPU(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	stop, err := ProfileCPU(path)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("profile %s: %v, %v; want a non-empty file", path, fi, err)
	}
	if _, err := ProfileCPU(filepath.Join(t.TempDir(), "no", "such", "folder")); err == nil {
		t.Error("ProfileCPU into a missing folder: no error")
	}
}

func TestEngineBanner(t *testing.T) {
	e := Engine{BLAS: "b", Kernels: "k", Conv: "c", Threads: 3}
	if got, want := e.String(), "BLAS b, kernels k, convolutions c, 3 threads"; got != want {
		t.Errorf("Engine.String() = %q, want %q", got, want)
	}
	if m := Machine(); !strings.HasSuffix(m, " cores") {
		t.Errorf("Machine() = %q, want host, CPU, cores", m)
	}
}
