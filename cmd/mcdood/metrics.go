package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/results"
)

func init() {
	register(&command{
		name:    "metrics",
		order:   20,
		summary: "compute FPR@95TPR, detection error, AUROC, AUPR-In and AUPR-Out from two score files",
		usage:   "(--id FILE --ood FILE | --scores FILE) [--mode exact|paper] [--convention id-positive|ood-positive] [--format json|text] [--bootstrap N]",
		help: `
Each file holds one score per line, a higher score meaning more
in-distribution (MCD's score is the negated discrepancy). Blank lines and
everything from a "#" to the end of a line are ignored, so a score may carry
a trailing comment. A line that is not exactly one finite number is an
error naming the file and the line. "-" reads standard input (for one of
the two files). A file ending in .npy is read as a 1-D numpy array;
--scores reads both sets from one file that mcdood scores exported (.npz or
.csv).

ID is the positive class unless --convention ood-positive, which reads
FPR@95TPR as OpenOOD v1.5 does: the share of ID images flagged as OOD when
95% of the OOD images are (the other four metrics do not depend on the
convention). All five metrics are fractions in [0, 1] in JSON
and percentages in text. --mode exact (the default) uses the package
metrics definitions, which agree with scikit-learn; --mode paper reproduces
the MCD authors' test.py on the negated scores, for putting numbers beside
the paper's (see "go doc ./metrics" for where the two differ).

JSON output is one object with the keys fpr95, detection_error, auroc,
aupr_in and aupr_out; "fpr95_fallback": true is added when paper mode found
no threshold in test.py's TPR window and reports the exact FPR95 instead,
and "ci" (a {"low", "high"} pair per metric) with --bootstrap.`,
		flags: func(fs *flag.FlagSet) runFunc {
			idPath := fs.String("id", "", "file of in-distribution scores (`FILE`, .npy, or - for stdin)")
			oodPath := fs.String("ood", "", "file of out-of-distribution scores (`FILE`, .npy, or - for stdin)")
			both := fs.String("scores", "", "both sets from one `FILE` of mcdood scores: .npz (arrays id and ood) or .csv (set,score)")
			mode := fs.String("mode", "exact", "metric definitions: exact or paper (the MCD authors' test.py)")
			convention := fs.String("convention", "id-positive", "FPR@95's positive class: id-positive (ODIN, the MCD paper) or ood-positive (OpenOOD, pytorch-ood)")
			format := fs.String("format", "text", "output format: json or text")
			resamples := fs.Int("bootstrap", 0, "add percentile bootstrap confidence intervals from `N` resamples (0: none)")
			level := fs.Float64("level", 0.95, "coverage of the bootstrap intervals, in (0, 1)")
			seed := fs.Uint64("seed", 1, "seed of the bootstrap resampling")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q (the files go after --id and --ood)", args)
				}
				if *both != "" && (*idPath != "" || *oodPath != "") {
					return usagef("give --scores, or --id and --ood, not both")
				}
				if *both == "" && (*idPath == "" || *oodPath == "") {
					return usagef("both --id and --ood are required (or --scores)")
				}
				if *idPath == "-" && *oodPath == "-" {
					return usagef("only one of --id and --ood can be - (standard input)")
				}
				m, err := parseModeConvention(*mode, *convention)
				if err != nil {
					return usagef("%v", err)
				}
				if *format != "json" && *format != "text" {
					return usagef("unknown format %q (want json or text)", *format)
				}
				if *resamples < 0 || *resamples == 1 {
					return usagef("--bootstrap wants 0 (off) or at least 2 resamples, got %d", *resamples)
				}
				if *resamples > 0 && !(*level > 0 && *level < 1) {
					return usagef("--level %v outside (0, 1)", *level)
				}
				var id, ood []float64
				if *both != "" {
					id, ood, err = readScorePair(*both)
				} else if id, err = readScoreFile(*idPath); err == nil {
					ood, err = readScoreFile(*oodPath)
				}
				if err != nil {
					return err
				}
				out := metricsOutput{}
				if m == metrics.Paper {
					p, err := metrics.ComputePaper(id, ood)
					if err != nil {
						return err
					}
					out.Report, out.FPR95Fallback = p.Report, p.FPR95Fallback
				} else if out.Report, err = m.Compute(id, ood); err != nil {
					return err
				}
				if out.FPR95Fallback {
					fmt.Fprintf(e.stderr, "mcdood metrics: warning: no threshold has a TPR in test.py's window [94.95%%, 95.05%%] "+
						"(%d ID scores); FPR@95TPR is the exact value\n", len(id))
				}
				if *resamples > 0 {
					iv, err := metrics.Bootstrap(id, ood, metrics.BootstrapConfig{
						Mode: m, Resamples: *resamples, Level: *level, Seed: *seed,
					})
					if err != nil {
						return err
					}
					out.CI = &iv
				}
				if *format == "json" {
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(out)
				}
				return writeMetricsText(e.stdout, out, m, len(id), len(ood), *resamples, *level, *seed)
			}
		},
	})
}

// metricsOutput is the JSON object of "mcdood metrics": the five keys of
// metrics.Report, and the others only when they say something.
type metricsOutput struct {
	metrics.Report
	FPR95Fallback bool               `json:"fpr95_fallback,omitempty"`
	CI            *metrics.Intervals `json:"ci,omitempty"`
}

func writeMetricsText(w io.Writer, out metricsOutput, m metrics.Mode, nID, nOOD, resamples int, level float64, seed uint64) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d ID and %d OOD scores, %s mode, values in %%", nID, nOOD, m)
	if out.CI != nil {
		fmt.Fprintf(&b, ", %g%% bootstrap intervals (%d resamples, seed %d)", 100*level, resamples, seed)
	}
	b.WriteString("\n")
	rows := []struct {
		label string
		v     float64
		iv    func(*metrics.Intervals) metrics.Interval
		note  string
	}{
		{"FPR@95TPR", out.FPR95, func(i *metrics.Intervals) metrics.Interval { return i.FPR95 }, ""},
		{"Detection error", out.DetectionError, func(i *metrics.Intervals) metrics.Interval { return i.DetectionError }, ""},
		{"AUROC", out.AUROC, func(i *metrics.Intervals) metrics.Interval { return i.AUROC }, ""},
		{"AUPR-In", out.AUPRIn, func(i *metrics.Intervals) metrics.Interval { return i.AUPRIn }, ""},
		{"AUPR-Out", out.AUPROut, func(i *metrics.Intervals) metrics.Interval { return i.AUPROut }, ""},
	}
	if out.FPR95Fallback {
		rows[0].note = "  (exact: no threshold in test.py's TPR window)"
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "%-16s %6.2f", r.label, 100*r.v)
		if out.CI != nil {
			iv := r.iv(out.CI)
			fmt.Fprintf(&b, "  [%6.2f, %6.2f]", 100*iv.Low, 100*iv.High)
		}
		b.WriteString(r.note + "\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// metricsStdin is what "-" reads; tests replace it.
var metricsStdin io.Reader = os.Stdin

// readScoreFile reads a score file ("-" for metricsStdin).
func readScoreFile(path string) ([]float64, error) {
	if path == "-" {
		return readScores("<stdin>", metricsStdin)
	}
	if strings.HasSuffix(path, ".npy") {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		v, err := results.ReadNPY(data)
		if err == nil {
			err = checkScores("", v)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return v, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readScores(path, f)
}

// maxScoreLine bounds the length of one line of a score file.
const maxScoreLine = 1 << 20

// readScores parses one finite score per line; blank lines and everything
// from "#" to the end of a line are ignored. Errors name the file (as name)
// and the 1-based line.
func readScores(name string, r io.Reader) ([]float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxScoreLine)
	var scores []float64
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF") // a byte-order mark
		}
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if f := strings.Fields(text); len(f) > 1 {
			return nil, fmt.Errorf("%s:%d: want one score per line, got %d fields %q", name, line, len(f), text)
		}
		v, err := strconv.ParseFloat(text, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%s:%d: score %q is out of the float64 range", name, line, text)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: cannot read %q as a number", name, line, text)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s:%d: score %q is not finite", name, line, text)
		}
		scores = append(scores, v)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxScoreLine)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(scores) == 0 {
		return nil, fmt.Errorf("%s: no scores", name)
	}
	return scores, nil
}

// checkScores checks scores read from a numpy array: at least one, each
// finite; errors start with prefix (the array's name) and name the index.
func checkScores(prefix string, v []float64) error {
	if len(v) == 0 {
		return fmt.Errorf("%sno scores (an empty array)", prefix)
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%svalue %d (0-based) is %v, want a finite score", prefix, i, x)
		}
	}
	return nil
}

// parseModeConvention reads --mode and --convention into one metrics.Mode.
func parseModeConvention(mode, convention string) (metrics.Mode, error) {
	m, err := metrics.ParseMode(mode)
	if err != nil {
		return 0, err
	}
	c, err := metrics.ParseConvention(convention)
	if err != nil {
		return 0, err
	}
	return metrics.ModeFor(m, c)
}

// readScorePair reads the ID and OOD scores of one file of mcdood scores:
// an .npz with arrays id and ood, or a set,score .csv.
func readScorePair(path string) (id, ood []float64, err error) {
	if !strings.HasSuffix(path, ".npz") && !strings.HasSuffix(path, ".csv") {
		return nil, nil, fmt.Errorf("%s: --scores reads .npz or .csv files", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case strings.HasSuffix(path, ".npz"):
		arrays, err := results.ReadNPZ(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		id, okI := arrays["id"]
		ood, okO := arrays["ood"]
		if !okI || !okO {
			return nil, nil, fmt.Errorf("%s: want arrays id and ood (mcdood scores writes them)", path)
		}
		for _, a := range []struct {
			name string
			v    []float64
		}{{"id.npy", id}, {"ood.npy", ood}} {
			if err := checkScores(a.name+": ", a.v); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		return id, ood, nil
	case strings.HasSuffix(path, ".csv"):
		id, ood, err := results.ReadScoresCSV(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return id, ood, nil
	}
	return nil, nil, fmt.Errorf("%s: --scores reads .npz or .csv files", path)
}
