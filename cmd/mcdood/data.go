package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
		summary: "fetch and check the data sets",
		usage:   "fetch [--data DIR] [--mirror DIR] [--missing-ok] NAME… | check [--data DIR]",
		help: `fetch downloads data sets from their official locations (or copies them
from a local --mirror) into the data root, checks them (the published md5
where there is one, then every record or image) and moves them into place
atomically. Names:

  cifar10, cifar100     CIFAR binary archives (Krizhevsky, 2009), cs.toronto.edu
  tinyimagenet          Tiny ImageNet (CS231n), whose 10,000 test images ODIN's
                        TinyImageNet sets are made from
  tinyimagenet-crop,    ODIN's archives (Liang et al., 2018) from the Dropbox
  tinyimagenet-resize,  links in the MCD authors' README; the two TinyImageNet
  lsun-crop,            sets are derived from tinyimagenet when ODIN's archive
  lsun-resize, isun     cannot be had
  all                   every name above

check reads every data set under the data root and prints image counts per
split (train/test for CIFAR; images and the paper's 1,000-image validation
split for OOD sets); it exits 1 when anything is corrupt.

The data root is --data, else $` + loaders.DataEnv + `, else ./` + loaders.DefaultRoot + `.`,
		flags: func(fs *flag.FlagSet) runFunc {
			data := fs.String("data", "", "data root `DIR` (default $"+loaders.DataEnv+" or ./"+loaders.DefaultRoot+")")
			mirror := fs.String("mirror", "", "fetch: copy from the local mirror `DIR` instead of downloading")
			missingOK := fs.Bool("missing-ok", false, "fetch: warn, not fail, for a data set that cannot be fetched (not in the mirror, network unreachable)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) == 0 {
					return usagef("missing subcommand: fetch or check")
				}
				root := loaders.ResolveRoot(*data, e.getenv)
				switch args[0] {
				case "fetch":
					return dataFetch(ctx, e, root, *mirror, *missingOK, args[1:])
				case "check":
					if len(args) > 1 {
						return usagef("check takes no arguments, got %q", args[1:])
					}
					var fetchOnly []string
					fs.Visit(func(f *flag.Flag) {
						if f.Name == "mirror" || f.Name == "missing-ok" {
							fetchOnly = append(fetchOnly, "--"+f.Name)
						}
					})
					if len(fetchOnly) > 0 {
						return usagef("%s applies to fetch only", strings.Join(fetchOnly, " and "))
					}
					return dataCheck(e, root)
				}
				return usagef("unknown subcommand %q (want fetch or check)", args[0])
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
	if len(derived) > 0 {
		fmt.Fprintf(w, "derived: %s built from Tiny ImageNet's test images as ODIN built its sets; ODIN's own archives are used when present (mcdood data fetch %s).\n",
			strings.Join(derived, ", "), strings.Join(derived, " "))
	}
	if len(missing) > 0 {
		fmt.Fprintf(w, "missing: %s; get them with: mcdood data fetch --data %s %s\n", strings.Join(missing, ", "), root, strings.Join(missing, " "))
	}
	return nil
}
