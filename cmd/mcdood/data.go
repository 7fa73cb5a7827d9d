package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

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
			f := &dataFlags{}
			fs.StringVar(&f.data, "data", "", "data root `DIR` (default $"+loaders.DataEnv+" or ./"+loaders.DefaultRoot+")")
			fs.StringVar(&f.mirror, "mirror", "", "fetch: copy from the local mirror `DIR` instead of downloading")
			fs.BoolVar(&f.missingOK, "missing-ok", false, "fetch: warn, not fail, for a data set that cannot be fetched (not in the mirror, network unreachable)")
			fs.StringVar(&f.fit, "fit", "", "stats: make each image of a PATH 32×32 with `FIT` (resize, crop, odin-resize, odin-crop) before measuring")
			return func(ctx context.Context, e *env, args []string) error {
				fs.Visit(func(fl *flag.Flag) { f.given = append(f.given, fl.Name) })
				return runData(ctx, e, *f, args)
			}
		},
	})
}

// dataFlags are the flags of "mcdood data".
type dataFlags struct {
	data, mirror, fit string
	missingOK         bool
	given             []string // the flags given on the command line
}

// subcommandFlags names the subcommand each subcommand-only flag is for.
var subcommandFlags = map[string]string{"mirror": "fetch", "missing-ok": "fetch", "fit": "stats"}

// misplaced names the flags given that belong to another subcommand than sub.
func (f dataFlags) misplaced(sub string) error {
	byOwner := map[string][]string{}
	var owners, msgs []string
	for _, name := range f.given {
		if o, ok := subcommandFlags[name]; ok && o != sub {
			if byOwner[o] == nil {
				owners = append(owners, o)
			}
			byOwner[o] = append(byOwner[o], "--"+name)
		}
	}
	for _, o := range owners {
		msgs = append(msgs, fmt.Sprintf("%s applies to %s only", strings.Join(byOwner[o], " and "), o))
	}
	if len(msgs) > 0 {
		return usagef("%s", strings.Join(msgs, "; "))
	}
	return nil
}

// runData runs the subcommand args[0] with the arguments after it.
func runData(ctx context.Context, e *env, f dataFlags, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: fetch, check or stats")
	}
	switch args[0] {
	case "fetch", "check", "stats":
	default:
		return usagef("unknown subcommand %q (want fetch, check or stats)", args[0])
	}
	if args[0] == "check" && len(args) > 1 {
		return usagef("check takes no arguments, got %q", args[1:])
	}
	if err := f.misplaced(args[0]); err != nil {
		return err
	}
	root := loaders.ResolveRoot(f.data, e.getenv)
	switch args[0] {
	case "fetch":
		return dataFetch(ctx, e, root, f.mirror, f.missingOK, args[1:])
	case "check":
		return dataCheck(e, root)
	}
	return dataStats(ctx, e, root, f.fit, args[1:])
}

// dataFetch fetches the named data sets (loaders.FetchEach).
func dataFetch(ctx context.Context, e *env, root, mirror string, missingOK bool, names []string) error {
	if len(names) == 0 {
		return usagef("fetch: no data set named (want %s, all)", strings.Join(loaders.FetchNames(), ", "))
	}
	list, err := loaders.ExpandFetchNames(names)
	if err != nil {
		return usagef("fetch: %v", err)
	}
	opts := loaders.FetchOptions{Mirror: mirror, Log: e.stderr, Progress: progress.New(e.stderr)}
	return loaders.FetchEach(ctx, list, root, opts, missingOK)
}

// dataCheck prints what loaders.Check finds under root; a broken set is an
// error.
func dataCheck(e *env, root string) error {
	reports, err := loaders.Check(root, loaders.Options{Progress: progress.New(e.stderr)})
	if err != nil {
		return fmt.Errorf("%w (get data with: %s)", err, loaders.FetchCommand(root, "NAME…"))
	}
	fmt.Fprintf(e.stdout, "data root: %s\n", root)
	if err := loaders.WriteReports(e.stdout, root, reports); err != nil {
		return err
	}
	var corrupt []string
	for _, r := range reports {
		if r.Status == loaders.Broken {
			fmt.Fprintf(e.stderr, "%s: %s\n", r.Name, r.Problem)
			corrupt = append(corrupt, r.Name)
		}
	}
	if len(corrupt) > 0 {
		return fmt.Errorf("corrupt: %s", strings.Join(corrupt, ", "))
	}
	return nil
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
	var rows []loaders.StatsRow
	for _, a := range args {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := loaders.MeasureStats(root, a, fit, rep)
		if err != nil {
			return fmt.Errorf("stats %s: %w", a, err)
		}
		rows = append(rows, r)
	}
	return loaders.WriteStats(e.stdout, root, fit, rows)
}
