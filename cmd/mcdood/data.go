package main

import (
	"context"
	"errors"
	"flag"
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
	"github.com/mcdood/mcdood/loaders"
)

func init() {
	register(&command{
		name:    "data",
		order:   10,
		summary: "fetch, check and measure the data sets",
		usage:   "fetch [--data DIR] [--mirror DIR] [--missing-ok] NAME… | check [--data DIR] | stats [--data DIR] [--fit FIT] NAME|PATH…",
		help: `fetch downloads data sets from their official locations (or copies them
from a local --mirror) into the data root, checks them (the published md5
where there is one, then every record or image) and moves them into place
atomically. Names:

  cifar10, cifar100     CIFAR binary archives (Krizhevsky, 2009), cs.toronto.edu
  tinyimagenet          Tiny ImageNet (CS231n), whose 10,000 test images ODIN's
                        TinyImageNet sets are made from
  tinyimagenet-crop,    ODIN's archives (Liang et al., 2018) from the Dropbox
  tinyimagenet-resize,  links in the MCD authors' README; the two TinyImageNet
  lsun-crop,            sets are derived from tinyimagenet as ODIN built them
  lsun-resize, isun     (fits odin-crop, odin-resize) when ODIN's archive
                        cannot be had
  odin-densenet10,      published networks, into DATA/pretrained/, sha256
  odin-densenet100,     pinned: ODIN's DenseNet-BC-100 for CIFAR-10 and
  resnet56-cifar10      CIFAR-100, akamaster's ResNet-56 for CIFAR-10 (a
                        plan's weights = "NAME")
  all                   every name above

tinyimagenet-crop-fix and tinyimagenet-resize-fix, the clean twins (fits crop
and resize), are always derived from tinyimagenet; cifar10-jpeg, the artefact
control (the CIFAR-10 test images after ODIN's JPEG step), from cifar10.

check reads every data set under the data root and prints image counts per
split (train/test for CIFAR; images and the paper's 1,000-image validation
split for OOD sets); it exits 1 when anything is corrupt.

stats measures data sets by name (the images as the harness scores them; the
test images for cifar10 and cifar100) or any folder, archive or image file by
path (each image at its own size, or made 32×32 with --fit resize, crop,
odin-resize or odin-crop): the number of images, the distribution of their
high-frequency energy (mean absolute 4-neighbour Laplacian of PIL's grey
image: ODIN's iSUN archive about 88, CIFAR-10 about 32), and how JPEG files
were encoded (process, chroma subsampling, whether the quantisation tables
are the IJG ones at some quality). A name wins over a path of the same
spelling; write ./NAME for the path. Crops are seeded with 0, as in check.

The data root is --data, else $` + loaders.DataEnv + `, else ./` + loaders.DefaultRoot + `.`,
		flags: func(fs *flag.FlagSet) runFunc {
			data := fs.String("data", "", "data root `DIR` (default $"+loaders.DataEnv+" or ./"+loaders.DefaultRoot+")")
			mirror := fs.String("mirror", "", "fetch: copy from the local mirror `DIR` instead of downloading")
			missingOK := fs.Bool("missing-ok", false, "fetch: warn, not fail, for a data set that cannot be fetched (not in the mirror, network unreachable)")
			fit := fs.String("fit", "", "stats: make each image of a PATH 32×32 with `FIT` (resize, crop, odin-resize, odin-crop) before measuring")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) == 0 {
					return usagef("missing subcommand: fetch, check or stats")
				}
				root := loaders.ResolveRoot(*data, e.getenv)
				// misplaced names the flags given that belong to another
				// subcommand than sub.
				owner := map[string]string{"mirror": "fetch", "missing-ok": "fetch", "fit": "stats"}
				misplaced := func(sub string) error {
					byOwner := map[string][]string{}
					var owners []string
					fs.Visit(func(f *flag.Flag) {
						if o, ok := owner[f.Name]; ok && o != sub {
							if byOwner[o] == nil {
								owners = append(owners, o)
							}
							byOwner[o] = append(byOwner[o], "--"+f.Name)
						}
					})
					var msgs []string
					for _, o := range owners {
						msgs = append(msgs, fmt.Sprintf("%s applies to %s only", strings.Join(byOwner[o], " and "), o))
					}
					if len(msgs) > 0 {
						return usagef("%s", strings.Join(msgs, "; "))
					}
					return nil
				}
				switch args[0] {
				case "fetch":
					if err := misplaced("fetch"); err != nil {
						return err
					}
					return dataFetch(ctx, e, root, *mirror, *missingOK, args[1:])
				case "check":
					if len(args) > 1 {
						return usagef("check takes no arguments, got %q", args[1:])
					}
					if err := misplaced("check"); err != nil {
						return err
					}
					return dataCheck(e, root)
				case "stats":
					if err := misplaced("stats"); err != nil {
						return err
					}
					return dataStats(ctx, e, root, *fit, args[1:])
				}
				return usagef("unknown subcommand %q (want fetch, check or stats)", args[0])
			}
		},
	})
}

func dataFetch(ctx context.Context, e *env, root, mirror string, missingOK bool, names []string) error {
	if len(names) == 0 {
		return usagef("fetch: no data set named (want %s, all)", strings.Join(loaders.FetchNames(), ", "))
	}
	known := loaders.FetchNames()
	var list []string
	for _, n := range names {
		switch {
		case n == "all":
			list = append(list, known...)
		case slices.Contains(known, n):
			list = append(list, n)
		default:
			return usagef("fetch: unknown data set %q (want %s, all)", n, strings.Join(known, ", "))
		}
	}
	opts := loaders.FetchOptions{Mirror: mirror, Log: e.stderr, Progress: progress.New(e.stderr)}
	var failed []string
	seen := map[string]bool{}
	for _, n := range list {
		if seen[n] {
			continue
		}
		seen[n] = true
		err := loaders.Fetch(ctx, n, root, opts)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case missingOK && errors.Is(err, loaders.ErrUnavailable):
			fmt.Fprintf(e.stderr, "warning: %v (skipped: --missing-ok)\n", err)
		default:
			fmt.Fprintf(e.stderr, "error: %v\n", err)
			failed = append(failed, n)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not fetch %s", strings.Join(failed, ", "))
	}
	return nil
}

func dataCheck(e *env, root string) error {
	reports, err := loaders.Check(root, loaders.Options{Progress: progress.New(e.stderr)})
	if err != nil {
		return fmt.Errorf("%w (get data with: mcdood data fetch --data %s NAME…)", err, root)
	}
	if err := printReports(e.stdout, root, reports); err != nil {
		return err
	}
	var corrupt []string
	for _, r := range reports {
		if r.Err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", r.Name, r.Err)
			corrupt = append(corrupt, r.Name)
		}
	}
	if len(corrupt) > 0 {
		return fmt.Errorf("corrupt: %s", strings.Join(corrupt, ", "))
	}
	return nil
}

// printReports writes the check table, then the warnings, the derived sets
// and the missing ones with the command that fetches them.
func printReports(w io.Writer, root string, reports []loaders.Report) error {
	fmt.Fprintf(w, "data root: %s\n", root)
	table := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: []tw.Align{
			tw.AlignLeft, tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft, tw.AlignLeft,
		}}),
	)
	table.Header("data set", "kind", "train", "test", "images", "val", "split test", "source", "status")
	count := func(n int, show bool) string {
		if !show {
			return ""
		}
		return strconv.Itoa(n)
	}
	var notes, missing, derived []string
	for _, r := range reports {
		id := r.Kind == "ID"
		ok := !r.Missing && r.Err == nil
		src := r.Source
		if rel, err := filepath.Rel(root, src); err == nil && src != "" && !strings.HasPrefix(rel, "..") {
			src = rel
		}
		if r.Note != "" {
			src += " (" + r.Note + ")"
		}
		status := "ok"
		switch {
		case r.Missing:
			status = "missing"
			missing = append(missing, r.Name)
		case r.Err != nil:
			status = "CORRUPT"
		case len(r.Warnings) > 0:
			status = fmt.Sprintf("ok, %d warning(s)", len(r.Warnings))
		}
		if strings.HasPrefix(r.Note, "derived") {
			derived = append(derived, r.Name)
		}
		split := ok && r.Val > 0
		if err := table.Append(r.Name, r.Kind, count(r.Train, ok && id), count(r.Test, ok && id), count(r.Images, ok && !id),
			count(r.Val, split), count(r.SplitTest, split), src, status); err != nil {
			return err
		}
		for _, wn := range r.Warnings {
			notes = append(notes, fmt.Sprintf("%s: warning: %s", r.Name, wn))
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintf(w, "val, split test: the paper's split (numpy seed %d permutation, first %d images for validation).\n", loaders.PaperSplitSeed, loaders.PaperValImages)
	// ODIN's sets among the derived ones can be fetched as ODIN's archives;
	// the FIX twins are always derived.
	var odin, fix []string
	for _, n := range derived {
		if slices.Contains(loaders.FetchNames(), n) {
			odin = append(odin, n)
		} else {
			fix = append(fix, n)
		}
	}
	if len(odin) > 0 {
		fmt.Fprintf(w, "derived: %s built from Tiny ImageNet's test images as ODIN built its sets (JPEG quality 75; the resize by nearest neighbour, aliased); ODIN's own archives are used when present (mcdood data fetch %s).\n",
			strings.Join(odin, ", "), strings.Join(odin, " "))
	}
	if len(fix) > 0 {
		fmt.Fprintf(w, "derived: %s, the clean FIX twins (no JPEG step; the resize antialiased), always built from Tiny ImageNet's test images.\n", strings.Join(fix, ", "))
	}
	if len(missing) > 0 {
		// The fetch names that get them: a FIX twin comes with tinyimagenet.
		var fetch []string
		for _, r := range reports {
			if n, ok := strings.CutPrefix(r.Fetch, "mcdood data fetch "); ok && r.Missing && !slices.Contains(fetch, n) {
				fetch = append(fetch, n)
			}
		}
		fmt.Fprintf(w, "missing: %s; get them with: mcdood data fetch --data %s %s\n", strings.Join(missing, ", "), root, strings.Join(fetch, " "))
	}
	return nil
}

// statsRow is what dataStats prints for one argument.
type statsRow struct {
	name, source string
	hf           loaders.HFStats
	jpeg         string // summary of the files' JPEG encodings; "" for derived and generated sets
}

// dataStats measures each NAME (a catalog set, as the harness scores it) or
// PATH (a folder, archive or image file) and prints one row per argument.
func dataStats(ctx context.Context, e *env, root, fitFlag string, args []string) error {
	if len(args) == 0 {
		return usagef("stats: no data set or path named (want %s, cifar10, cifar100, or a folder, archive or image file)", strings.Join(loaders.Names(), ", "))
	}
	var fit loaders.Fit
	if fitFlag != "" {
		f, err := loaders.ParseFit(fitFlag)
		if err != nil {
			return usagef("--fit: %v", err)
		}
		fit = f
	}
	rep := progress.New(e.stderr)
	var rows []statsRow
	for _, a := range args {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := statsOf(root, a, fit, rep)
		if err != nil {
			return fmt.Errorf("stats %s: %w", a, err)
		}
		rows = append(rows, r)
	}
	return printStats(e.stdout, root, fit, rows)
}

// statsOf measures one argument.
func statsOf(root, arg string, fit loaders.Fit, rep *progress.Reporter) (statsRow, error) {
	hfOf := func(d *loaders.Dataset) loaders.HFStats {
		v := make([]float64, d.Len())
		for i := range v {
			v[i] = loaders.HighFrequencyEnergy(d.Image(i))
		}
		return loaders.SummarizeHF(v)
	}
	switch {
	case slices.Contains(loaders.IDNames(), arg):
		_, test, err := loaders.OpenID(arg, root)
		if err != nil {
			return statsRow{}, err
		}
		return statsRow{name: arg + " (test)", source: root, hf: hfOf(test)}, nil
	case slices.Contains(loaders.Names(), arg):
		opts := loaders.Options{Progress: rep}
		src, err := loaders.Locate(arg, root, opts)
		if err != nil {
			return statsRow{}, err
		}
		r := statsRow{name: arg, source: relTo(root, src.Path)}
		switch {
		case src.Path == "":
			r.source = "generated"
		case src.Derived:
			r.source += fmt.Sprintf(" (derived, %s)", src.Fit)
		default:
			// ODIN's archive or folder: measure the images as scored (the
			// set's fit) and read the files' JPEG headers in one pass.
			infos, err := loaders.InspectImages(src.Path, loaders.InspectOptions{Fit: src.Fit, Progress: rep})
			if err != nil {
				return statsRow{}, err
			}
			v := make([]float64, len(infos))
			for i, in := range infos {
				v[i] = in.HFEnergy32
			}
			r.hf, r.jpeg = loaders.SummarizeHF(v), jpegSummary(infos)
			return r, nil
		}
		d, err := loaders.Open(arg, root, opts)
		if err != nil {
			return statsRow{}, err
		}
		r.hf = hfOf(d)
		return r, nil
	}
	if _, err := os.Stat(arg); err != nil {
		return statsRow{}, fmt.Errorf("neither a data set (%s, cifar10, cifar100) nor a file or folder: %w", strings.Join(loaders.Names(), ", "), err)
	}
	infos, err := loaders.InspectImages(arg, loaders.InspectOptions{Fit: fit, Progress: rep})
	if err != nil {
		return statsRow{}, err
	}
	v := make([]float64, len(infos))
	for i, in := range infos {
		v[i] = in.HFEnergy
		if fit != "" {
			v[i] = in.HFEnergy32
		}
	}
	r := statsRow{name: arg, source: arg, hf: loaders.SummarizeHF(v), jpeg: jpegSummary(infos)}
	if fit != "" {
		r.source += fmt.Sprintf(" (fit %s)", fit)
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
func jpegSummary(infos []loaders.ImageInfo) string {
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

// printStats writes the stats table and what its columns mean.
func printStats(w io.Writer, root string, fit loaders.Fit, rows []statsRow) error {
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
		jpeg := r.jpeg
		if jpeg == "" {
			jpeg = "—"
		}
		h := r.hf
		if err := table.Append(r.name, strconv.Itoa(h.N), num(h.Mean), num(h.P5), num(h.P25), num(h.P50), num(h.P75), num(h.P95), jpeg, r.source); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	fmt.Fprintln(w, "HF: high-frequency energy per image, the mean absolute 4-neighbour Laplacian of PIL's grey image (loaders.HighFrequencyEnergy);")
	if fit != "" {
		fmt.Fprintf(w, "named sets as the harness scores them (32×32), paths after --fit %s.\n", fit)
	} else {
		fmt.Fprintln(w, "named sets as the harness scores them (32×32), paths at each image's own size (--fit makes them 32×32 first).")
	}
	fmt.Fprintln(w, "Reference: ODIN's iSUN archive about 88 (aliased, JPEG quality 75), CIFAR-10 test images about 32.")
	return nil
}
