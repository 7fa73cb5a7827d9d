package loaders

import (
	"fmt"
	"os"
)

// Check reads every data set of the catalog (and opts.Custom) found under
// root and reports image counts, the paper's split, differences from the
// official releases (as warnings) and corruption (Broken). Missing sets are
// reported with the fetch command that gets them. The returned error is for
// a root that cannot be read at all.
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
		r := Report{Name: s.name, Role: RoleOOD}
		src, err := Locate(s.name, root, opts)
		if r.Fail(err, root) {
			reports = append(reports, r)
			continue
		}
		r.SetSource(src)
		if src.Derived {
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
		r := Report{Name: c.Name, Role: RoleOOD}
		src, err := Locate(c.Name, root, opts)
		if r.Fail(err, root) {
			reports = append(reports, r)
			continue
		}
		r.SetSource(src)
		d, err := ReadImages(c.Name, src.Path, ImageOptions{Fit: c.Fit, Seed: opts.Seed, Progress: opts.Progress, Context: opts.Context})
		reports = append(reports, finishOOD(r, d, err, 0))
	}
	return reports, nil
}

func checkCIFAR(l *cifarLayout, root string) Report {
	r := Report{Name: l.name, Role: RoleID}
	p, isArchive, err := l.locate(root)
	if r.Fail(err, root) {
		return r
	}
	r.Source = p
	var train, test *Dataset
	if isArchive {
		train, test, err = l.readArchive(p)
	} else {
		train, test, err = l.readDir(p)
	}
	if r.Fail(err, root) {
		return r
	}
	r.Status = Ready
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
	if r.Fail(err, "") {
		return r
	}
	r.Status, r.Test = Ready, d.Len()
	r.Warnings = append(r.Warnings, d.Warnings...)
	if official > 0 && r.Test != official {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d images; the published set has %d", r.Test, official))
	}
	r.Val, r.SplitTest, r.Warnings = splitCounts(r.Test, r.Warnings)
	return r
}

// splitCounts gives the sizes of Split(d, PaperValImages, …).
func splitCounts(n int, w []string) (val, test int, _ []string) {
	if n < PaperValImages {
		return 0, 0, append(w, fmt.Sprintf("fewer than %d images: the paper's validation split cannot be made", PaperValImages))
	}
	return PaperValImages, n - PaperValImages, w
}

// LocateID returns the folder or archive holding the in-distribution set
// name under root (a *NotFoundError when there is none).
func LocateID(name, root string) (string, error) {
	for _, l := range []*cifarLayout{cifar10Layout, cifar100Layout} {
		if l.name == name {
			p, _, err := l.locate(root)
			return p, err
		}
	}
	return "", fmt.Errorf("unknown in-distribution data set %q", name)
}
