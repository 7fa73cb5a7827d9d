// Package results stores one record per finished cell of an experiment plan
// and projects records into tables (the paper's layout as text, Markdown and
// CSV), plots and regression comparisons. Records are the single source:
// every table and plot is re-rendered from them.
//
// # Files
//
//   - record.go, metric.go: the record of a cell and its metrics in a mode
//     (metrics.Metric names them).
//   - store.go, filename.go, scores.go, merge.go: the record store (one
//     atomically written JSON file per cell, a checksummed binary file of its
//     test scores) and the merging of shards.
//   - load.go: LoadRecords, the records of a results directory checked
//     against their scores, and the filters of the commands that read them.
//   - verify.go: record digests, which bind each record to its scores, and
//     the checking of records against their scores when they are read.
//   - claim.go (claim_unix.go, claim_other.go): claims by which runs share
//     an output folder, each unit of work computed once.
//   - reference.go: the papers' published numbers (reference/, embedded).
//   - table.go, render.go: tables as projections of records.
//   - plot.go: score histograms (Yu & Aizawa, ICCV 2019, Figure 4) and ROC
//     curves.
//   - baseline.go: the baseline file, several runs of each cell
//     configuration with their mean and standard deviation.
//   - compare.go: regression comparison of records against a baseline.
//   - export.go: ExportScores, a cell's test scores for numpy and pandas.
//   - npy.go: the NPY/NPZ and set,score CSV codecs of score files.
//   - scorefile.go: score files as "mcdood metrics" reads them.
//   - pairmetrics.go: the metrics of one pair of ID and OOD scores
//     (ComputePair), as "mcdood metrics" prints them.
//   - report.go: everything above written into a results directory.
//
// # Table layout
//
// The papers' tables (Liang et al., ICLR 2018, Table 2; Yu & Aizawa, ICCV
// 2019, Table 2) have one row per OOD set and one column per metric, each
// cell holding the methods' values separated by slashes ("34.7/4.3"). Ours
// keep that layout and put the published numbers and the difference in rows
// under ours ("ours", "paper", "Δ"), not in more columns: five metrics ×
// three methods × three values side by side would be 45 columns, too wide
// to read in a terminal. The CSV format has one row per record instead, with
// the published numbers as paper_* columns.
package results
