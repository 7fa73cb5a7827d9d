package loaders

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/mcdood/mcdood/internal/progress"
)

// StatsRow is one row of "mcdood data stats".
type StatsRow struct {
	Name, Source string
	HF           HFStats
	JPEG         string // summary of the files' JPEG encodings; "" for derived and generated sets
}

// MeasureStats measures one argument of "mcdood data stats": a data set
// by name (the images as the harness scores them; the test images of an ID
// set) or a folder, archive or image file by path (each image at its own
// size, or made 32×32 with fit).
func MeasureStats(root, arg string, fit Fit, rep *progress.Reporter) (StatsRow, error) {
	hfOf := func(d *Dataset) HFStats {
		v := make([]float64, d.Len())
		for i := range v {
			v[i] = HighFrequencyEnergy(d.Image(i))
		}
		return SummarizeHF(v)
	}
	switch {
	case slices.Contains(IDNames(), arg):
		_, test, err := OpenID(arg, root)
		if err != nil {
			return StatsRow{}, err
		}
		return StatsRow{Name: arg + " (test)", Source: root, HF: hfOf(test)}, nil
	case slices.Contains(Names(), arg):
		opts := Options{Progress: rep}
		src, err := Locate(arg, root, opts)
		if err != nil {
			return StatsRow{}, err
		}
		r := StatsRow{Name: arg, Source: relTo(root, src.Path)}
		switch {
		case src.Path == "":
			r.Source = "generated"
		case src.Derived:
			r.Source += fmt.Sprintf(" (derived, %s)", src.Fit)
		default:
			// ODIN's archive or folder: measure the images as scored (the
			// set's fit) and read the files' JPEG headers in one pass.
			infos, err := InspectImages(src.Path, InspectOptions{Fit: src.Fit, Progress: rep})
			if err != nil {
				return StatsRow{}, err
			}
			v := make([]float64, len(infos))
			for i, in := range infos {
				v[i] = in.HFEnergy32
			}
			r.HF, r.JPEG = SummarizeHF(v), jpegSummary(infos)
			return r, nil
		}
		d, err := Open(arg, root, opts)
		if err != nil {
			return StatsRow{}, err
		}
		r.HF = hfOf(d)
		return r, nil
	}
	if _, err := os.Stat(arg); err != nil {
		return StatsRow{}, fmt.Errorf("neither a data set (%s, cifar10, cifar100) nor a file or folder: %w", strings.Join(Names(), ", "), err)
	}
	infos, err := InspectImages(arg, InspectOptions{Fit: fit, Progress: rep})
	if err != nil {
		return StatsRow{}, err
	}
	v := make([]float64, len(infos))
	for i, in := range infos {
		v[i] = in.HFEnergy
		if fit != "" {
			v[i] = in.HFEnergy32
		}
	}
	r := StatsRow{Name: arg, Source: arg, HF: SummarizeHF(v), JPEG: jpegSummary(infos)}
	if fit != "" {
		r.Source += fmt.Sprintf(" (fit %s)", fit)
	}
	return r, nil
}

// relTo shortens p to a path relative to root when it lies under it.
func relTo(root, p string) string {
	if rel, err := filepath.Rel(root, p); err == nil && p != "" && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

// jpegSummary counts the files by encoding, most common first: "8925
// baseline 4:2:0, IJG tables at quality 75"; files that are not JPEG are
// counted as such.
func jpegSummary(infos []ImageInfo) string {
	counts := map[string]int{}
	for _, in := range infos {
		k := "not JPEG"
		if in.JPEG != nil {
			k = in.JPEG.String()
		}
		counts[k]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := counts[b] - counts[a]; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(keys))
	for i, k := range keys {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("%d more kinds", len(keys)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return strings.Join(parts, "; ")
}

// WriteStats writes the stats table and what its columns mean.
func WriteStats(w io.Writer, root string, fit Fit, rows []StatsRow) error {
	fmt.Fprintf(w, "data root: %s\n", root)
	table := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: []tw.Align{
			tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft, tw.AlignLeft,
		}}),
	)
	table.Header("set", "images", "HF mean", "p5", "p25", "median", "p75", "p95", "JPEG files", "source")
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }
	for _, r := range rows {
		jpeg := r.JPEG
		if jpeg == "" {
			jpeg = "—"
		}
		h := r.HF
		if err := table.Append(r.Name, strconv.Itoa(h.N), num(h.Mean), num(h.P5), num(h.P25), num(h.P50), num(h.P75), num(h.P95), jpeg, r.Source); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	fmt.Fprintln(w, "HF: high-frequency energy per image, the mean absolute 4-neighbour Laplacian of PIL's grey image (HighFrequencyEnergy);")
	if fit != "" {
		fmt.Fprintf(w, "named sets as the harness scores them (32×32), paths after --fit %s.\n", fit)
	} else {
		fmt.Fprintln(w, "named sets as the harness scores them (32×32), paths at each image's own size (--fit makes them 32×32 first).")
	}
	fmt.Fprintln(w, "Reference: ODIN's iSUN archive about 88 (aliased, JPEG quality 75), CIFAR-10 test images about 32.")
	return nil
}
