package loaders

import "errors"

// Status says whether a data set can be used.
type Status string

const (
	Ready   Status = "ok"
	Missing Status = "missing" // not under the data root: fetch it (a run skips its cells)
	Broken  Status = "broken"  // there, but unreadable, corrupt or too small
)

// The roles a data set plays in a Report.
const (
	RoleID      = "ID"
	RoleOOD     = "OOD"
	RoleWeights = "weights" // a published network's weights file, named by its network
)

// Report is the status of one data set, as "mcdood data check" (Check) or
// a run's data pass (benchmarks.OpenData) found it; WriteReports prints
// reports as one table.
type Report struct {
	Name string // catalog name; a network's name for RoleWeights
	Role string // RoleID, RoleOOD or RoleWeights
	// Seed is the seed an OOD set was opened with in a data pass: random
	// crops and the noise sets depend on it (0 for ID sets and in Check).
	Seed   uint64
	Status Status
	// Image counts: an ID set's training and test images, an OOD set's
	// images (Test only); a data pass counts them after the plan's caps.
	Train, Test int
	// Val and SplitTest are the paper's split of Test (PaperValImages
	// for validation, the rest scored); Check only.
	Val, SplitTest int
	Source         string // the folder, archive or file read; "generated" for noise
	Note           string // how the images are made: "derived: odin-crop: …", "custom: …"
	FromTiny       bool   // built from Tiny ImageNet's test images (Source is Tiny ImageNet)
	Fetch          string // Missing: the fetch name that gets it ("" if none)
	Problem        string // Missing: the command that fetches it; Broken: the file and what is wrong
	Cells          int    // data pass: the cells that need it
	Warnings       []string
}

// Fail records err, if any, as the set's status: a *NotFoundError makes it
// Missing, with the command that fetches it (FetchCommand) into root; any
// other error Broken. It reports whether err was not nil.
func (r *Report) Fail(err error, root string) bool {
	var nf *NotFoundError
	switch {
	case err == nil:
		return false
	case errors.As(err, &nf) && nf.Fetch != "":
		r.Status, r.Fetch, r.Problem = Missing, nf.Fetch, "get it with: "+FetchCommand(root, nf.Fetch)
	case errors.Is(err, ErrNotFound):
		r.Status, r.Problem = Missing, err.Error()
	default:
		r.Status, r.Problem = Broken, err.Error()
	}
	return true
}

// SetSource records where a located OOD set comes from and how its images
// are made.
func (r *Report) SetSource(src Source) {
	r.Source = src.Path
	switch {
	case src.Path == "":
		r.Source = "generated"
	case src.Custom:
		r.Note = "custom: " + fitNote(src.Fit)
	case src.Derived:
		r.Note = "derived: " + fitNote(src.Fit)
		r.FromTiny = findOOD(src.Name) != nil && findOOD(src.Name).tinyFit != ""
	}
}

// fitNote says what a fit makes of the images, for reports and fetch
// messages; ODIN's constructions lead with the fit's name, which the
// records print too.
func fitNote(f Fit) string {
	switch f {
	case FitCrop:
		return "seeded 32×32 crops"
	case FitODINCrop:
		return "odin-crop: seeded 32×32 crops, JPEG quality 75"
	case FitODINResize:
		return "odin-resize: nearest neighbour to 32×32, JPEG quality 75"
	}
	return "resized to 32×32, PIL bilinear"
}
