package nets

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"time"
	"unicode/utf8"
	"unsafe"

	G "gorgonia.org/gorgonia"
)

// A per-op wall-clock profile of Program runs (mcdood bench --ops).
// Program.ProfileOps replaces each of this package's ops in a compiled
// graph — forward and backward ops alike, after G.Grad has made the
// backward ones — by a decorator that forwards every method and times Do,
// and recompiles the tape machine. Nothing else changes: a program that was
// not asked is untouched (no cost when off), and a profiled one computes the
// same floats (the decorator only calls Do). Gorgonia's own ops (the Add
// summing a value's gradients) and the tape's dispatch are what remains of
// a step's time, reported as "other".
//
// The swap happens after the graph is built, not in the builder, because
// backward ops are made inside SymDiff by G.ApplyOp and the builder's BN
// fusion type-asserts the ops it finds; gorgonia has no setter for a
// node's op, so nodeOpOffset locates the field (checked by name and type).

// OpProfile is the profile of one benchmark: one phase per program.
type OpProfile struct {
	Phases []*OpPhase
	// Peak, when not 0, is the machine's FMA peak (FMAPeak) in GFLOP/s,
	// against which the arithmetic rows are rated.
	Peak float64
}

// Phase adds a phase for a program of the given batch size.
func (p *OpProfile) Phase(name string, batch int) *OpPhase {
	ph := &OpPhase{Name: name, Batch: batch, byName: map[string]*OpRow{}}
	p.Phases = append(p.Phases, ph)
	return ph
}

// OpPhase aggregates the ops of one program's steps by kind and direction.
type OpPhase struct {
	Name    string
	Batch   int
	Steps   int           // timed steps (Step)
	Elapsed time.Duration // their wall-clock time
	Rate    float64       // images per second measured without profiling, 0 if not
	peak    float64       // OpProfile.Peak
	width   int           // of the name column
	rows    []*OpRow
	byName  map[string]*OpRow
}

// OpRow is one kind of op: its calls, time and work over the phase's steps.
type OpRow struct {
	Name         string
	Calls        int
	Time         time.Duration
	FLOPs, Bytes float64 // counted from the shapes: arithmetic, or bytes read + written
	// Part marks a piece of an op timed inside it (a dense block's layers'
	// batch norms and convolutions): its time is also its op's.
	Part bool
}

func (ph *OpPhase) row(name string) *OpRow { return ph.rowOf(name, false) }

func (ph *OpPhase) rowOf(name string, part bool) *OpRow {
	r := ph.byName[name]
	if r == nil {
		r = &OpRow{Name: name, Part: part}
		ph.byName[name] = r
		ph.rows = append(ph.rows, r)
	}
	return r
}

// Reset forgets what was recorded (after warm-up runs).
func (ph *OpPhase) Reset() {
	for _, r := range ph.rows {
		*r = OpRow{Name: r.Name, Part: r.Part}
	}
	ph.Steps, ph.Elapsed = 0, 0
}

// Step runs and times one step of the phase.
func (ph *OpPhase) Step(fn func() error) error {
	t0 := time.Now()
	err := fn()
	ph.Elapsed += time.Since(t0)
	ph.Steps++
	return err
}

// Time runs fn, work of a step outside the graph (the SGD update), as a row
// of its own.
func (ph *OpPhase) Time(name string, fn func() error) error {
	r := ph.row(name)
	t0 := time.Now()
	err := fn()
	r.Time += time.Since(t0)
	r.Calls++
	return err
}

// Rows are the phase's rows, slowest first.
func (ph *OpPhase) Rows() []OpRow {
	out := make([]OpRow, len(ph.rows))
	for i, r := range ph.rows {
		out[i] = *r
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time > out[j].Time })
	return out
}

// FLOPsPerImage is the counted arithmetic of one step per image.
func (ph *OpPhase) FLOPsPerImage() float64 {
	var f float64
	for _, r := range ph.rows {
		if !r.Part {
			f += r.FLOPs
		}
	}
	if ph.Steps == 0 || ph.Batch == 0 {
		return 0
	}
	return f / float64(ph.Steps*ph.Batch)
}

// WriteTable writes each phase's rows: calls and milliseconds per step,
// share of the step, and GFLOP/s (convolutions, linear layers, dense
// blocks) or GB/s (the memory-bound rest).
func (p *OpProfile) WriteTable(w io.Writer) {
	for _, ph := range p.Phases {
		ph.peak = p.Peak
		ph.writeTable(w)
	}
}

func (ph *OpPhase) writeTable(w io.Writer) {
	if ph.Steps == 0 {
		return
	}
	steps := float64(ph.Steps)
	step := ph.Elapsed.Seconds() / steps
	fmt.Fprintf(w, "%s, batch %d: %.2f ms per step (mean of %d profiled steps)", ph.Name, ph.Batch, step*1e3, ph.Steps)
	if ph.Rate > 0 {
		fmt.Fprintf(w, "; %.1f img/s unprofiled", ph.Rate)
	}
	fmt.Fprintln(w)
	ph.width = 28
	for _, r := range ph.rows {
		ph.width = max(ph.width, utf8.RuneCountInString(r.Name))
	}
	fmt.Fprintf(w, "  %-*s %10s %9s %7s %14s", ph.width, "op", "calls/step", "ms/step", "share", "rate")
	if ph.peak > 0 {
		fmt.Fprintf(w, " %6s", "peak")
	}
	fmt.Fprintln(w)
	var timed time.Duration
	var parts []OpRow
	for _, r := range ph.Rows() {
		if r.Part {
			parts = append(parts, r)
			continue
		}
		timed += r.Time
		ph.writeRow(w, r, step)
	}
	other := ph.Elapsed - timed
	fmt.Fprintf(w, "  %-*s %10s %9.3f %6.1f%%\n", ph.width, "other (gorgonia's ops, dispatch)", "", other.Seconds()/steps*1e3, 100*other.Seconds()/ph.Elapsed.Seconds())
	fmt.Fprintf(w, "  %-*s %10s %9.3f %6.1f%%\n", ph.width, "total", "", step*1e3, 100.0)
	if len(parts) > 0 {
		fmt.Fprintf(w, "  inside the dense blocks (part of their rows above):\n")
		for _, r := range parts {
			ph.writeRow(w, r, step)
		}
	}
	if f := ph.FLOPsPerImage(); f > 0 {
		fmt.Fprintf(w, "  counted %.2f MFLOP per image (convolutions, linear layers)", f/1e6)
		if ph.Rate > 0 {
			fmt.Fprintf(w, "; at %.1f img/s unprofiled, %.1f GFLOP/s", ph.Rate, f*ph.Rate/1e9)
			if ph.peak > 0 {
				fmt.Fprintf(w, ", %.0f%% of the FMA peak", 100*f*ph.Rate/1e9/ph.peak)
			}
		}
		fmt.Fprintln(w)
	}
}

func (ph *OpPhase) writeRow(w io.Writer, r OpRow, step float64) {
	steps, s := float64(ph.Steps), r.Time.Seconds()
	rate, peak := "", ""
	switch {
	case r.FLOPs > 0 && s > 0:
		rate = fmt.Sprintf("%.1f GFLOP/s", r.FLOPs/s/1e9)
		if ph.peak > 0 {
			peak = fmt.Sprintf("%5.0f%%", 100*r.FLOPs/s/1e9/ph.peak)
		}
	case r.Bytes > 0 && s > 0:
		rate = fmt.Sprintf("%.1f GB/s", r.Bytes/s/1e9)
	}
	fmt.Fprintf(w, "  %-*s %10.4g %9.3f %6.1f%% %14s %s\n", ph.width, r.Name, float64(r.Calls)/steps, s/steps*1e3, 100*s/steps/step, rate, peak)
}

// ProfileOps makes every later run of p record its ops' calls, time and
// work into ph (see OpProfile). It recompiles p's machine, so call it
// before a run, not during one.
func (p *Program) ProfileOps(ph *OpPhase) error {
	if nodeOpOffset == 0 {
		return fmt.Errorf("nets: this gorgonia's Node has no op field to profile")
	}
	for _, n := range p.g.AllNodes() {
		if _, done := n.Op().(*timedOp); done || n.Op() == nil {
			continue
		}
		kind, flops := opKind(n.Op())
		if kind == "" {
			continue
		}
		bytes := 4 * float64(n.Shape().TotalSize())
		for it := p.g.From(n.ID()); it.Next(); {
			bytes += 4 * float64(it.Node().(*G.Node).Shape().TotalSize())
		}
		switch op := n.Op().(type) {
		case *bnOp:
			if op.fused {
				bytes = 0 // passes its input through
			}
		case *bnParamGradOp, *denseParamGradOp:
			bytes = 8 * float64(n.Shape().TotalSize()) // copies out a vector; the input only orders it
		case *denseBlockOp:
			op.parts = &denseParts{ph: ph, pass: "fwd"}
		case *denseBlockGradOp:
			op.parts = &denseParts{ph: ph, pass: "bwd"}
		}
		*(*G.Op)(unsafe.Add(unsafe.Pointer(n), nodeOpOffset)) = &timedOp{Op: n.Op(), row: ph.row(kind), flops: flops, bytes: bytes}
	}
	if err := p.vm.Close(); err != nil {
		return err
	}
	return p.compile()
}

// nodeOpOffset is the offset of G.Node's op field, or 0 if it has none.
var nodeOpOffset = func() uintptr {
	f, ok := reflect.TypeOf(G.Node{}).FieldByName("op")
	if !ok || f.Type != reflect.TypeOf((*G.Op)(nil)).Elem() {
		return 0
	}
	return f.Offset
}()

// timedOp is an op whose Do is timed into its row; every other method is
// the op's own. None of this package's ops implements gorgonia's optional
// interfaces (UsePreallocDoer, UnsafeDoer, IncrDoer, TrainModeOp), so the
// tape calls Do on the decorator exactly as it did on the op.
type timedOp struct {
	G.Op
	row          *OpRow
	flops, bytes float64
}

func (o *timedOp) Do(vs ...G.Value) (G.Value, error) {
	t0 := time.Now()
	v, err := o.Op.Do(vs...)
	o.row.Time += time.Since(t0)
	o.row.Calls++
	o.row.FLOPs += o.flops
	o.row.Bytes += o.bytes
	return v, err
}

// convFLOPs is the multiply-adds of a convolution (×2): 2·N·Cout·OH·OW·C·KH·KW,
// the same for each backward pass.
func convFLOPs(g geom, cout int) float64 { return 2 * float64(g.N*cout*g.Pix*g.K) }

// opKind names the row an op of this package is counted in, and the
// arithmetic one call does (0 for the memory-bound ops, which are rated by
// bytes); "" for an op that is not this package's.
func opKind(op G.Op) (string, float64) {
	switch op := op.(type) {
	case *convOp:
		if op.post != nil {
			return "conv+bn fwd", convFLOPs(op.g, op.cout)
		}
		return "conv fwd", convFLOPs(op.g, op.cout)
	case *convGradInputOp:
		return "conv bwd-data", convFLOPs(op.g, op.cout)
	case *convGradWeightOp:
		return "conv bwd-weight", convFLOPs(op.g, op.cout)
	case *bnOp:
		if op.fused {
			return "bn fwd (fused in conv)", 0
		}
		return "bn fwd", 0
	case *bnGradOp:
		return "bn bwd", 0
	case *bnParamGradOp:
		return "bn bwd-param", 0
	case *denseBlockOp:
		return "dense-block fwd", op.convFLOPs()
	case *denseBlockGradOp:
		if !op.fwd.training { // input gradients only (ODIN's pass)
			return "dense-block bwd", op.fwd.convFLOPs()
		}
		return "dense-block bwd", 2 * op.fwd.convFLOPs()
	case *denseParamGradOp:
		return "dense-block bwd-param", 0
	case *linearOp:
		return "linear fwd", 2 * float64(op.n*op.f*op.k)
	case *linearGradOp:
		l := op.fwd
		return [...]string{"linear bwd-data", "linear bwd-weight", "linear bwd-bias"}[op.which],
			[...]float64{2 * float64(l.n*l.f*l.k), 2 * float64(l.n*l.f*l.k), float64(l.n * l.k)}[op.which]
	case *transposeOp:
		return "layout", 0
	case *concatOp:
		return "concat fwd", 0
	case *sliceChannelsOp:
		return "concat bwd", 0
	case *avgPoolOp, *maxPoolOp, *gapOp, *gmpOp:
		return "pool fwd", 0
	case *avgPoolGradOp, *maxPoolGradOp, *gapGradOp, *gmpGradOp:
		return "pool bwd", 0
	case *reluOp:
		return "relu fwd", 0
	case *reluGradOp:
		return "relu bwd", 0
	case *dropoutOp:
		return "dropout fwd", 0
	case *dropoutGradOp:
		return "dropout bwd", 0
	case *nllOp, *meanEntropyOp:
		return "loss fwd", 0
	case *nllGradOp, *meanEntropyGradOp:
		return "loss bwd", 0
	case *addOp:
		return "add fwd", 0
	case *stopGradOp:
		return "add bwd, stopgrad", 0
	case *scalarOp, *scalarGradOp:
		return "scalars", 0
	}
	if t := reflect.TypeOf(op); t.Kind() == reflect.Pointer && t.Elem().PkgPath() == reflect.TypeOf(opBase{}).PkgPath() {
		return t.Elem().Name(), 0
	}
	return "", 0
}

// convFLOPs is the arithmetic of the block's convolutions in one forward pass.
func (op *denseBlockOp) convFLOPs() float64 {
	var f float64
	for _, l := range op.layers {
		f += convFLOPs(l.conv1.g, l.conv1.cout) + convFLOPs(l.conv2.g, l.conv2.cout)
	}
	return f
}

// denseParts times the pieces of a dense block's pass into parts rows of
// ph; a nil *denseParts (no profile) times nothing.
type denseParts struct {
	ph   *OpPhase
	pass string
}

// now starts a lap.
func (p *denseParts) now() time.Time {
	if p == nil {
		return time.Time{}
	}
	return time.Now()
}

// lap adds the time since t0 to the row of the named piece, with its
// arithmetic or traffic, and starts the next lap.
func (p *denseParts) lap(t0 time.Time, name string, flops, bytes float64) time.Time {
	if p == nil {
		return t0
	}
	t := time.Now()
	r := p.ph.rowOf("dense "+p.pass+": "+name, true)
	r.Time += t.Sub(t0)
	r.Calls++
	r.FLOPs += flops
	r.Bytes += bytes
	return t
}

// FLOPs is the arithmetic of one run of p, counted from its ops' shapes as
// the profile counts it (convolutions, linear layers, dense blocks).
func (p *Program) FLOPs() float64 {
	var f float64
	for _, n := range p.g.AllNodes() {
		op := n.Op()
		if t, ok := op.(*timedOp); ok {
			op = t.Op
		}
		if op != nil {
			_, fl := opKind(op)
			f += fl
		}
	}
	return f
}
