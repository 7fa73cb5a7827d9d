package results

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/mcdood/mcdood/internal/atomicfile"
)

// ReportOptions say what WriteReport writes.
type ReportOptions struct {
	Table     TableOptions
	Plot      PlotOptions
	SkipPlots bool         // write the tables only
	Log       *slog.Logger // notes on skipped plots; nil discards them
}

// The folders and files of a report inside a results directory.
const (
	TablesDir = "tables"
	PlotsDir  = "plots"
)

// WriteReport writes the tables of records in every format and their plots
// into the results directory dir (the Store's directory, which holds the
// scores the plots need):
//
//	dir/tables/tables.txt   the paper's layout, box-drawn
//	dir/tables/tables.md    the same in Markdown
//	dir/tables/tables.csv   one row per record
//	dir/plots/hist_<key>.png                       score histograms per record (Figure 4)
//	dir/plots/roc_<id>_<network>_<ood>_<setting>_s<seed>.png   the methods' ROC curves
//
// (names mapped by FileName). Every file is written atomically. A record
// without stored scores gets no plot, which is logged; unreadable scores are
// an error.
func WriteReport(dir string, records []*Record, opts ReportOptions) error {
	if len(records) == 0 {
		return errors.New("results: no records to report")
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tab, err := BuildTable(records, opts.Table)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		format Format
		name   string
	}{{Text, "tables.txt"}, {Markdown, "tables.md"}, {CSV, "tables.csv"}} {
		var b bytes.Buffer
		if err := tab.Write(&b, f.format); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, TablesDir, f.name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if opts.SkipPlots {
		return nil
	}
	store, err := OpenStore(dir)
	if err != nil {
		return err
	}
	return writePlots(store, records, opts.Plot, log)
}

// writePlots writes one histogram per record and one ROC figure per (ID
// set, network, OOD set, setting, seed).
func writePlots(store *Store, records []*Record, opts PlotOptions, log *slog.Logger) error {
	type rocID struct {
		id, network, ood, setting string
		seed                      uint64
	}
	rocs := map[rocID]*ROCPlot{}
	var order []rocID
	sorted := slices.Clone(records)
	slices.SortFunc(sorted, func(a, b *Record) int {
		return cmp.Or(compareIn(DefaultMethodOrder, a.Method, b.Method), cmp.Compare(a.Key, b.Key))
	})
	for _, r := range sorted {
		id, ood, err := store.Scores(r.Key)
		if errors.Is(err, fs.ErrNotExist) {
			log.Info("no stored scores: no plots for this record", "key", r.Key)
			continue
		}
		if err != nil {
			return err
		}
		name, err := FileName("hist_" + r.Key)
		if err != nil {
			return err
		}
		if err := WritePlotFile(filepath.Join(store.dir, PlotsDir, name+".png"), HistogramOf(r, id, ood), opts); err != nil {
			return fmt.Errorf("results: histogram of %s: %w", r.Key, err)
		}
		k := rocID{r.ID, r.Network, r.OOD, r.Setting, r.Seed}
		if rocs[k] == nil {
			rocs[k] = &ROCPlot{Title: fmt.Sprintf("%s vs %s · %s · %s, seed %d", r.ID, r.OOD, r.Network, r.Setting, r.Seed)}
			order = append(order, k)
		}
		rocs[k].Series = append(rocs[k].Series, ROCSeries{Label: r.Method, ID: id, OOD: ood})
	}
	for _, k := range order {
		name, err := FileName(fmt.Sprintf("roc_%s_%s_%s_%s_s%d", k.id, k.network, k.ood, k.setting, k.seed))
		if err != nil {
			return err
		}
		if err := WritePlotFile(filepath.Join(store.dir, PlotsDir, name+".png"), rocs[k], opts); err != nil {
			return fmt.Errorf("results: %s: %w", name, err)
		}
	}
	return nil
}
