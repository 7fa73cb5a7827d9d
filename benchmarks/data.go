package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/ood"
)

// Status says whether a data set a plan needs can be used.
type Status string

const (
	Ready   Status = "ok"
	Missing Status = "missing" // not under the data root: its cells are skipped
	Broken  Status = "broken"  // there, but unreadable or too small
)

// DataSet is one data set a plan's cells need, as the data pass found it.
type DataSet struct {
	Name string
	Role string // "ID", "OOD" or RoleWeights (a published network's file, named by its network)
	// Seed is the seed an OOD set was opened with: random crops and the
	// noise sets depend on it (0 for ID sets).
	Seed   uint64
	Status Status
	// Train and Test count the images a run uses (after the plan's caps);
	// an OOD set has Test only.
	Train, Test int
	Source      string // the folder or archive read, "generated", with "(derived, crop)" and the like
	Problem     string // Missing: the command that fetches it; Broken: the file and what is wrong
	Cells       int    // cells that need it
	// Warnings says what reading the set skipped (image links that lead
	// nowhere, links to folders not followed); WriteTable prints them.
	Warnings []string

	train, test *loaders.Dataset
	valPool     *loaders.Dataset // ID validation images drawn from here, not from test (id_validation)
	weights     string           // the checked weights file
}

// Data is every data set the pending cells of a run need, opened, decoded
// and checked once, before any training (OpenData); Run takes it so that
// nothing is decoded twice.
type Data struct {
	Sets []*DataSet
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
		if s.Status == Broken {
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
	d := &Data{}
	need := func(role, name string, seed uint64) *DataSet {
		if s := d.find(role, name, seed); s != nil {
			return s
		}
		s := &DataSet{Name: name, Role: role, Seed: seed}
		d.Sets = append(d.Sets, s)
		return s
	}
	for _, c := range pending {
		if net := plan.Network(c.Network); net.Recipe.Published() {
			need(RoleWeights, net.Name, 0).Cells++
		}
		need("ID", c.ID, 0).Cells++
		need("OOD", c.OOD, c.Seed).Cells++
		if c.Setting == string(ood.Cross) {
			need("OOD", plan.CrossPool(c.OOD), c.Seed).Cells++
		}
	}
	for _, s := range d.Sets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch s.Role {
		case RoleWeights:
			s.openWeights(plan.Network(s.Name).Recipe, opts)
		case "ID":
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
	if s.fail(err, opts.DataRoot) {
		return
	}
	s.train, s.test = train.Head(f.TrainImages), test.Head(f.TestImages)
	s.Train, s.Test, s.Source = s.train.Len(), s.test.Len(), opts.DataRoot
	if f.IDValidation == experiments.IDValidationAfterTest {
		// Validation comes from the images after the scored ones.
		s.valPool = test.Subset(test.Name+" after the first "+fmt.Sprint(f.TestImages), seq(f.TestImages, test.Len()))
		s.Source += fmt.Sprintf(" (test images 0–%d scored; validation from the %d after them)", s.Test-1, s.valPool.Len())
		if s.valPool.Len() < f.Validation {
			s.Status, s.Problem = Broken, fmt.Sprintf("id_validation %q: %d test images after the first %d (test_images), fewer than validation = %d", f.IDValidation, s.valPool.Len(), f.TestImages, f.Validation)
			return
		}
		s.Status = Ready
		return
	}
	s.checkSize(f.Validation)
}

// RoleWeights is the role of a published network's weights file in the
// data pass: checked (present, sha256) before anything runs.
const RoleWeights = "weights"

// openWeights finds and checks the file of a published network (named in
// the DataSet by its network name).
func (s *DataSet) openWeights(r experiments.Recipe, opts Options) {
	nameOrPath := r.Weights
	_, named := loaders.FindWeights(nameOrPath)
	if !named && !filepath.IsAbs(nameOrPath) {
		nameOrPath = filepath.Join(opts.DataRoot, nameOrPath) // relative paths are under the data root, as custom sets'
	}
	p, err := loaders.ResolveWeights(nameOrPath, r.WeightsSHA256, opts.DataRoot)
	if errors.Is(err, loaders.ErrNotFound) {
		s.Status, s.Problem = Missing, "get it with: "+fetchCommand(opts.DataRoot, r.Weights)
		if !named {
			s.Problem = "no file at " + nameOrPath
		}
		return
	}
	if err != nil {
		s.Status, s.Problem = Broken, err.Error()
		return
	}
	s.weights = p
	s.Status, s.Source = Ready, fmt.Sprintf("%s (sha256 %s…)", p, r.WeightsSHA256[:12])
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
			s.Status, s.Problem = Broken, err.Error()
			return true
		}
		return s.fail(err, opts.DataRoot)
	}
	src, err := loaders.Locate(s.Name, opts.DataRoot, lo)
	if fail(err) {
		return
	}
	s.Source = sourceOf(src)
	set, err := loaders.Open(s.Name, opts.DataRoot, lo)
	if fail(err) {
		return
	}
	s.Warnings = set.Warnings
	s.test = set.Head(f.OODImages)
	s.Test = s.test.Len()
	s.checkSize(f.Validation)
}

// fail records err, if any, as the set's status.
func (s *DataSet) fail(err error, root string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, loaders.ErrNotFound):
		s.Status, s.Problem = Missing, "get it with: "+fetchCommand(root, s.Name)
	default:
		s.Status, s.Problem = Broken, err.Error()
	}
	return true
}

func (s *DataSet) checkSize(validation int) {
	if s.Test <= validation {
		s.Status, s.Problem = Broken, fmt.Sprintf("%d test images, not more than the %d the validation split takes", s.Test, validation)
		return
	}
	s.Status = Ready
}

func sourceOf(src loaders.Source) string {
	p := src.Path
	if p == "" {
		p = "generated"
	}
	if src.Derived {
		p += fmt.Sprintf(" (derived, %s)", src.Fit)
	}
	return p
}

func fetchCommand(root, name string) string {
	return fmt.Sprintf("mcdood data fetch --data %s %s", root, name)
}

// WriteTable writes the data pass as a table: every set, its status, image
// counts and source, and for a missing or broken set what to do or what is
// wrong; then one line per warning ("NAME: warning: …").
func (d *Data) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "set\trole\tstatus\timages\tcells\tsource or problem")
	for _, s := range d.Sets {
		name := s.Name
		if s.Role == "OOD" && s.Seed != 0 && d.seeds(s.Name) > 1 {
			name += fmt.Sprintf(" (seed %d)", s.Seed)
		}
		images := "—"
		switch {
		case s.Status == Missing || (s.Status == Broken && s.Test == 0) || s.Role == RoleWeights:
		case s.Role == "ID":
			images = fmt.Sprintf("%d train, %d test", s.Train, s.Test)
		default:
			images = fmt.Sprint(s.Test)
		}
		detail := s.Source
		if s.Problem != "" {
			detail = s.Problem
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", name, s.Role, s.Status, images, s.Cells, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printed := map[string]bool{} // a set opened with several seeds warns once
	for _, s := range d.Sets {
		for _, wn := range s.Warnings {
			line := fmt.Sprintf("%s: warning: %s\n", s.Name, wn)
			if printed[line] {
				continue
			}
			printed[line] = true
			if _, err := io.WriteString(w, line); err != nil {
				return err
			}
		}
	}
	return nil
}

// seeds counts the seeds an OOD set is opened with.
func (d *Data) seeds(name string) int {
	n := 0
	for _, s := range d.Sets {
		if s.Role == "OOD" && s.Name == name {
			n++
		}
	}
	return n
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
