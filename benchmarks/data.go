package benchmarks

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/ood"
)

// DataSet is one data set a plan's cells need, as the data pass found it:
// its loaders.Report (Cells, and Seed for an OOD set, filled) and what the
// run reads from it.
type DataSet struct {
	loaders.Report
	train, test *loaders.Dataset
	valPool     *loaders.Dataset // ID validation images drawn from here, not from test (id_validation)
	weights     string           // the checked weights file
}

// Data is every data set the pending cells of a run need, opened, decoded
// and checked once, before any training (OpenData); Run takes it so that
// nothing is decoded twice.
type Data struct {
	Sets []*DataSet
	root string // the data root the sets were looked for under
}

func (d *Data) find(role, name string, seed uint64) *DataSet {
	for _, s := range d.Sets {
		if s.Role == role && s.Name == name && s.Seed == seed {
			return s
		}
	}
	return nil
}

// Broken lists the sets that are there but cannot be used.
func (d *Data) Broken() []*DataSet {
	var out []*DataSet
	for _, s := range d.Sets {
		if s.Status == loaders.Broken {
			out = append(out, s)
		}
	}
	return out
}

// OpenData opens every data set that the plan's cells without a record need
// (the shard's, when sharded) — each ID set, and each OOD set with each seed
// it is drawn with, the cross setting's pool included — decodes every image
// and checks that each set has more test images than the validation split
// takes. It fails only on what is not the data's fault (a cancelled
// context, an unreadable results directory); a set that is missing or broken
// is reported in its DataSet.
func OpenData(ctx context.Context, plan *experiments.Plan, opts Options) (*Data, error) {
	pending, _, err := pendingCells(plan, opts)
	if err != nil {
		return nil, err
	}
	f := plan.File
	d := &Data{root: opts.DataRoot}
	need := func(role, name string, seed uint64) *DataSet {
		if s := d.find(role, name, seed); s != nil {
			return s
		}
		s := &DataSet{Report: loaders.Report{Name: name, Role: role, Seed: seed}}
		d.Sets = append(d.Sets, s)
		return s
	}
	for _, c := range pending {
		if net := plan.Network(c.Network); net.Recipe.Published() {
			need(loaders.RoleWeights, net.Name, 0).Cells++
		}
		need(loaders.RoleID, c.ID, 0).Cells++
		need(loaders.RoleOOD, c.OOD, c.Seed).Cells++
		if c.Setting == string(ood.Cross) {
			need(loaders.RoleOOD, plan.CrossPool(c.OOD), c.Seed).Cells++
		}
	}
	for _, s := range d.Sets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch s.Role {
		case loaders.RoleWeights:
			s.openWeights(plan.Network(s.Name).Recipe, opts)
		case loaders.RoleID:
			s.openID(f, opts)
		default:
			s.openOOD(ctx, plan, opts)
		}
	}
	// A signal while a set was decoding stops the decoding; the set is
	// not broken, the run is over.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *DataSet) openID(f experiments.File, opts Options) {
	train, test, err := loaders.OpenID(s.Name, opts.DataRoot)
	if s.Fail(err, opts.DataRoot) {
		return
	}
	s.Source, _ = loaders.LocateID(s.Name, opts.DataRoot) // found: OpenID read it
	s.train, s.test = train.Head(f.TrainImages), test.Head(f.TestImages)
	s.Train, s.Test = s.train.Len(), s.test.Len()
	if f.IDValidation == experiments.IDValidationAfterTest {
		// Validation comes from the images after the scored ones.
		s.valPool = test.Subset(test.Name+" after the first "+fmt.Sprint(f.TestImages), seq(f.TestImages, test.Len()))
		s.Note = fmt.Sprintf("test images 0–%d scored; validation from the %d after them", s.Test-1, s.valPool.Len())
		if s.valPool.Len() < f.Validation {
			s.Status, s.Problem = loaders.Broken, fmt.Sprintf("id_validation %q: %d test images after the first %d (test_images), fewer than validation = %d", f.IDValidation, s.valPool.Len(), f.TestImages, f.Validation)
			return
		}
		s.Status = loaders.Ready
		return
	}
	s.checkSize(f.Validation)
}

// openWeights finds and checks the file of a published network (named in
// the DataSet by its network name).
func (s *DataSet) openWeights(r experiments.Recipe, opts Options) {
	nameOrPath := r.Weights
	_, named := loaders.FindWeights(nameOrPath)
	if !named && !filepath.IsAbs(nameOrPath) {
		nameOrPath = filepath.Join(opts.DataRoot, nameOrPath) // relative paths are under the data root, as custom sets'
	}
	p, err := loaders.ResolveWeights(nameOrPath, r.WeightsSHA256, opts.DataRoot)
	if s.Fail(err, opts.DataRoot) {
		if !named && s.Status == loaders.Missing {
			s.Problem = "no file at " + nameOrPath
		}
		return
	}
	s.weights = p
	s.Status, s.Source, s.Note = loaders.Ready, p, fmt.Sprintf("sha256 %s…", r.WeightsSHA256[:12])
}

// seq is lo, lo+1, …, hi−1.
func seq(lo, hi int) []int {
	out := make([]int, 0, max(0, hi-lo))
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

func (s *DataSet) openOOD(ctx context.Context, plan *experiments.Plan, opts Options) {
	f := plan.File
	lo := loaders.Options{Seed: s.Seed, NoiseImages: f.NoiseImages, Custom: plan.Custom, Progress: opts.Progress, Context: ctx}
	// A custom set is declared with its path: when that path is wrong the
	// set is broken (the run stops), never missing, and there is nothing
	// to fetch.
	custom := slices.ContainsFunc(plan.Custom, func(c loaders.Custom) bool { return c.Name == s.Name })
	fail := func(err error) bool {
		if custom && err != nil {
			s.Status, s.Problem = loaders.Broken, err.Error()
			return true
		}
		return s.Fail(err, opts.DataRoot)
	}
	src, err := loaders.Locate(s.Name, opts.DataRoot, lo)
	if fail(err) {
		return
	}
	s.SetSource(src)
	set, err := loaders.Open(s.Name, opts.DataRoot, lo)
	if fail(err) {
		return
	}
	s.Warnings = set.Warnings
	s.test = set.Head(f.OODImages)
	s.Test = s.test.Len()
	s.checkSize(f.Validation)
}

// checkSize makes the set Ready when it has more test images than the
// validation split takes, Broken otherwise.
func (s *DataSet) checkSize(validation int) {
	if s.Test <= validation {
		s.Status, s.Problem = loaders.Broken, fmt.Sprintf("%d test images, not more than the %d the validation split takes", s.Test, validation)
		return
	}
	s.Status = loaders.Ready
}

// WriteTable writes the data pass as loaders.WriteReports does: every set,
// its status, image counts, cells and source, or what to do or what is
// wrong; then each warning once, and the missing sets with the command that
// fetches them.
func (d *Data) WriteTable(w io.Writer) error {
	reports := make([]loaders.Report, len(d.Sets))
	for i, s := range d.Sets {
		reports[i] = s.Report
	}
	return loaders.WriteReports(w, d.root, reports)
}

// BrokenError is the error of a run stopped before training by broken data.
type BrokenError struct{ Sets []*DataSet }

func (e *BrokenError) Error() string {
	var parts []string
	for _, s := range e.Sets {
		parts = append(parts, fmt.Sprintf("%s: %s", s.Name, s.Problem))
	}
	return fmt.Sprintf("broken data (nothing was trained; fix it, or skip these sets' cells with --skip-broken): %s", strings.Join(parts, "; "))
}
