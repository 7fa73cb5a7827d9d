package loaders

import (
	"errors"
	"fmt"
	"os"
)

// Report is what Check found for one data set.
type Report struct {
	Name    string // catalog name
	Kind    string // "ID" or "OOD"
	Source  string // the folder or archive read; "" when missing
	Note    string // "derived: odin-resize: …" for a set built from Tiny ImageNet's test images (ODIN's archive absent, or a FIX twin); "custom (…)"
	Missing bool   // nothing on disk; Fetch says how to get it
	Fetch   string // the command that gets it, when Missing
	// Image counts. ID sets: Train and Test. OOD sets: Images. Both: the
	// paper's split of the ID test set or of the OOD set into Val (1,000)
	// and SplitTest (the rest).
	Train, Test, Images int
	Val, SplitTest      int
	Warnings            []string // differences from the official release
	Err                 error    // the set is corrupt or unreadable
}

// Check reads every data set of the catalog (and opts.Custom) found under
// root and reports image counts, differences from the official releases
// (as warnings) and corruption (as Err). Missing sets are reported with the
// fetch command that gets them. The returned error is for a root that cannot
// be read at all.
func Check(root string, opts Options) ([]Report, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("data root: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("data root %s is not a directory", root)
	}
	var reports []Report
	for _, l := range []*cifarLayout{cifar10Layout, cifar100Layout} {
		reports = append(reports, checkCIFAR(l, root))
	}
	// Tiny ImageNet derivations share one decoding.
	derived := map[string][]int{} // path → indices into reports
	for _, s := range oodSets {
		if s.noise != nil || s.cifarControl { // generated, or made from cifar10, checked above
			continue
		}
		r := Report{Name: s.name, Kind: "OOD"}
		src, err := Locate(s.name, root, opts)
		if err != nil {
			reports = append(reports, missingOrError(r, err))
			continue
		}
		r.Source = src.Path
		if src.Derived {
			r.Note = "derived: " + fitNote(src.Fit)
			derived[src.Path] = append(derived[src.Path], len(reports))
			reports = append(reports, r)
			continue
		}
		d, err := ReadImages(s.name, src.Path, ImageOptions{Fit: src.Fit, Seed: opts.Seed, Progress: opts.Progress, Context: opts.Context})
		reports = append(reports, finishOOD(r, d, err, s.official))
	}
	for p, idx := range derived {
		fits := make([]Fit, len(idx))
		for k, i := range idx {
			fits[k] = findOOD(reports[i].Name).tinyFit
		}
		ds, err := tinyImageNet(opts.Context, p, fits, opts.Seed, opts.Progress)
		for k, i := range idx {
			var d *Dataset
			if err == nil {
				d = ds[k]
			}
			reports[i] = finishOOD(reports[i], d, err, tinyTestCount)
		}
	}
	for _, c := range opts.Custom {
		r := Report{Name: c.Name, Kind: "OOD", Note: "custom (" + fitNote(c.Fit) + ")"}
		src, err := Locate(c.Name, root, opts)
		if err != nil {
			reports = append(reports, missingOrError(r, err))
			continue
		}
		r.Source = src.Path
		d, err := ReadImages(c.Name, src.Path, ImageOptions{Fit: c.Fit, Seed: opts.Seed, Progress: opts.Progress, Context: opts.Context})
		reports = append(reports, finishOOD(r, d, err, 0))
	}
	return reports, nil
}

// fitNote says what a fit makes of the images, for check reports and
// fetch messages; ODIN's constructions lead with the fit's name, which
// the data-pass table and the records print too.
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

func missingOrError(r Report, err error) Report {
	var nf *NotFoundError
	if errors.As(err, &nf) {
		r.Missing = true
		if nf.Fetch != "" {
			r.Fetch = "mcdood data fetch " + nf.Fetch
		}
		return r
	}
	r.Err = err
	return r
}

func checkCIFAR(l *cifarLayout, root string) Report {
	r := Report{Name: l.name, Kind: "ID"}
	p, isArchive, err := l.locate(root)
	if err != nil {
		return missingOrError(r, err)
	}
	r.Source = p
	var train, test *Dataset
	if isArchive {
		train, test, err = l.readArchive(p)
	} else {
		train, test, err = l.readDir(p)
	}
	if err != nil {
		r.Err = err
		return r
	}
	r.Train, r.Test = train.Len(), test.Len()
	r.Warnings = cifarWarnings(l, train, test)
	r.Val, r.SplitTest, r.Warnings = splitCounts(r.Test, r.Warnings)
	return r
}

// cifarWarnings compares counts with the official release: 50,000 training
// and 10,000 test images, evenly spread over the classes.
func cifarWarnings(l *cifarLayout, train, test *Dataset) []string {
	var w []string
	for _, x := range []struct {
		d    *Dataset
		want int
	}{{train, cifarTrainImages}, {test, cifarTestImages}} {
		if x.d.Len() != x.want {
			w = append(w, fmt.Sprintf("%s has %d images; the official release has %d", x.d.Name, x.d.Len(), x.want))
			continue
		}
		counts := make([]int, l.classes)
		for _, lab := range x.d.Labels {
			counts[lab]++
		}
		per := x.want / l.classes
		for c, n := range counts {
			if n != per {
				w = append(w, fmt.Sprintf("%s: class %d has %d images; the official release has %d per class", x.d.Name, c, n, per))
				break
			}
		}
	}
	return w
}

func finishOOD(r Report, d *Dataset, err error, official int) Report {
	if err != nil {
		r.Err = err
		return r
	}
	r.Images = d.Len()
	r.Warnings = append(r.Warnings, d.Warnings...)
	if official > 0 && r.Images != official {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d images; the published set has %d", r.Images, official))
	}
	r.Val, r.SplitTest, r.Warnings = splitCounts(r.Images, r.Warnings)
	return r
}

// splitCounts gives the sizes of Split(d, PaperValImages, …).
func splitCounts(n int, w []string) (val, test int, _ []string) {
	if n < PaperValImages {
		return 0, 0, append(w, fmt.Sprintf("fewer than %d images: the paper's validation split cannot be made", PaperValImages))
	}
	return PaperValImages, n - PaperValImages, w
}
