package results

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcdood/mcdood/metrics"
)

func TestBaselineRoundTrip(t *testing.T) {
	recs := records(paperLayout...)
	b, err := NewBaseline(recs, metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "baseline.json")
	if err := WriteBaseline(path, b); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Groups) != len(recs) || got.Mode != "exact" || got.Groups[0].N != 1 || got.Groups[0].Std != (Values{}) {
		t.Fatalf("read back %d groups in mode %q: %+v", len(got.Groups), got.Mode, got.Groups[0])
	}
	// Equal results pass with nothing to report.
	c, err := Compare(got, recs, CompareOptions{Floor: Tolerances{Default: DefaultTolerance}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.OK() || c.Err() != nil || c.Compared != len(recs) || len(c.Improvements)+len(c.Regressions)+len(c.New) != 0 {
		t.Errorf("equal results: %+v", c)
	}
	// A record read twice (the same directory given twice) is refused;
	// the same key from another run (another directory) is a second draw.
	if _, err := NewBaseline(append(recs, recs[0]), metrics.Exact); err == nil || !strings.Contains(err.Error(), "read twice") {
		t.Errorf("a record twice: %v", err)
	}
	again := records(paperLayout[0])[0]
	again.Started = again.Started.Add(time.Hour)
	b2, err := NewBaseline(append(recs, again), metrics.Exact)
	if err != nil || len(b2.Groups) != len(recs) {
		t.Fatalf("a second run of one cell: %v", err)
	}
	for _, g := range b2.Groups {
		if want := map[bool]int{true: 2, false: 1}[g.Group == again.Group]; g.N != want {
			t.Errorf("group %s: n = %d, want %d", g.Group, g.N, want)
		}
	}
	noGroup := records(paperLayout[0])
	noGroup[0].Group = ""
	if _, err := NewBaseline(noGroup, metrics.Exact); err == nil || !strings.Contains(err.Error(), "no seed group") {
		t.Errorf("record without a group: %v", err)
	}
	// Paper mode needs paper metrics in every record.
	if _, err := NewBaseline(recs, metrics.Paper); err == nil || !strings.Contains(err.Error(), "no paper-mode metrics") {
		t.Errorf("paper-mode baseline without paper metrics: %v", err)
	}
}

// TestCompare plants changes in copies of the baseline's records. Every
// group has one draw (std 0), so the margin is the floor. Numbers are
// fractions; floor 0.02 unless a case says otherwise.
func TestCompare(t *testing.T) {
	base, err := NewBaseline(records(paperLayout...), metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	target := paperLayout[2].record().Key // mcd on tinyimagenet-crop: AUROC 0.9981, FPR95 0.0034, accuracy 0.9481
	cases := []struct {
		name         string
		change       func(r *Record)
		tol          Tolerances
		regressions  []string // "metric" of each regression
		improvements []string
		ok           bool
	}{
		{"AUROC drops 0.05", func(r *Record) { r.Metrics.AUROC -= 0.05 }, Tolerances{Default: 0.02}, []string{"auroc"}, nil, false},
		{"FPR95 rises 0.03", func(r *Record) { r.Metrics.FPR95 += 0.03 }, Tolerances{Default: 0.02}, []string{"fpr95"}, nil, false},
		{"accuracy drops", func(r *Record) { r.Accuracy -= 0.021 }, Tolerances{Default: 0.02}, []string{"accuracy"}, nil, false},
		{"within tolerance", func(r *Record) { r.Metrics.AUROC -= 0.019; r.Metrics.DetectionError += 0.02 }, Tolerances{Default: 0.02}, nil, nil, true},
		{"per-metric tolerance", func(r *Record) { r.Metrics.AUROC -= 0.015 },
			Tolerances{Default: 0.02, PerMetric: map[Metric]float64{AUROC: 0.01}}, []string{"auroc"}, nil, false},
		// FPR95 down and AUPR-Out up are improvements: reported, passing.
		{"improvement", func(r *Record) { r.Metrics.FPR95 -= 0.0034; r.Metrics.AUPROut += 0.0025 },
			Tolerances{Default: 0.001}, nil, []string{"fpr95", "aupr_out"}, true},
		{"both", func(r *Record) { r.Metrics.FPR95 += 0.1; r.Metrics.AUROC += 0.001 },
			Tolerances{Default: 0.0005}, []string{"fpr95"}, []string{"auroc"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs := records(paperLayout...)
			for _, r := range recs {
				if r.Key == target {
					c.change(r)
				}
			}
			cmp, err := Compare(base, recs, CompareOptions{Floor: c.tol})
			if err != nil {
				t.Fatal(err)
			}
			names := func(chs []Change) []string {
				var out []string
				for _, ch := range chs {
					if ch.Key != target {
						t.Errorf("change in untouched cell %s", ch.Key)
					}
					out = append(out, string(ch.Metric))
				}
				return out
			}
			if got := names(cmp.Regressions); strings.Join(got, ",") != strings.Join(c.regressions, ",") {
				t.Errorf("regressions %v, want %v", got, c.regressions)
			}
			if got := names(cmp.Improvements); strings.Join(got, ",") != strings.Join(c.improvements, ",") {
				t.Errorf("improvements %v, want %v", got, c.improvements)
			}
			if cmp.OK() != c.ok {
				t.Errorf("OK = %v, want %v", cmp.OK(), c.ok)
			}
		})
	}
}

// A partial comparison passes with groups not run, unless nothing of the
// baseline was compared; a full one fails on any missing group.
func TestComparePartialNeedsARecord(t *testing.T) {
	base, err := NewBaseline(records(paperLayout...), metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	some := records(paperLayout[:1]...)
	for _, c := range []struct {
		recs    []*Record
		partial bool
		ok      bool
	}{{some, false, false}, {some, true, true}, {nil, true, false}} {
		cmp, err := Compare(base, c.recs, CompareOptions{Partial: c.partial})
		if err != nil {
			t.Fatal(err)
		}
		if cmp.OK() != c.ok || (cmp.Err() == nil) != c.ok {
			t.Errorf("%d records, partial %v: OK %v, Err %v; want OK %v", len(c.recs), c.partial, cmp.OK(), cmp.Err(), c.ok)
		}
	}
}

// TestCompareSpread checks the margin max(k·std, floor) on a group of three
// seeds with AUROC 0.90, 0.92 and 0.94: mean 0.92, sample std 0.02.
func TestCompareSpread(t *testing.T) {
	var draws []*Record
	for k, auroc := range []float64{0.90, 0.92, 0.94} {
		c := paperLayout[2] // mcd on tinyimagenet-crop
		c.seed, c.m[2] = uint64(k+1), auroc
		draws = append(draws, c.record())
	}
	base, err := NewBaseline(draws, metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	g := base.Groups[0]
	if len(base.Groups) != 1 || g.N != 3 || math.Abs(g.Mean.AUROC-0.92) > 1e-12 || math.Abs(g.Std.AUROC-0.02) > 1e-12 || g.Std.FPR95 != 0 {
		t.Fatalf("groups %+v", base.Groups)
	}
	cases := []struct {
		auroc   float64
		k, tol  float64
		verdict string // "" inside, "regression" or "improvement"
	}{
		{0.85, 4, 0.02, ""},            // 0.07 below, margin 4·0.02 = 0.08
		{0.83, 4, 0.02, "regression"},  // 0.09 below
		{0.83, 4, 0.10, ""},            // the floor 0.10 is the margin
		{0.87, 2, 0.02, "regression"},  // 0.05 below, margin 0.04
		{0.97, 1, 0.02, "improvement"}, // 0.05 above, margin 0.02
		{0.92 - 0.08, 4, 0.02, ""},     // exactly the margin passes
		{math.NaN(), 4, 0.02, "regression"},
	}
	for _, c := range cases {
		r := draws[0]
		changed := *r
		changed.Seed, changed.Key, changed.Metrics.AUROC = 9, "seed-9", c.auroc
		cmp, err := Compare(base, []*Record{&changed}, CompareOptions{K: c.k, Floor: Tolerances{Default: c.tol}})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		switch {
		case len(cmp.Regressions) == 1 && cmp.Regressions[0].Metric == AUROC:
			got = "regression"
		case len(cmp.Improvements) == 1 && cmp.Improvements[0].Metric == AUROC:
			got = "improvement"
		}
		others := len(cmp.Regressions) + len(cmp.Improvements)
		if got != "" {
			others--
		}
		if got != c.verdict || others != 0 || cmp.OK() != (got != "regression") || cmp.Compared != 1 {
			t.Errorf("AUROC %v, k %v, floor %v: %q (%+v), want %q", c.auroc, c.k, c.tol, got, cmp, c.verdict)
		}
	}
}

func TestCompareReport(t *testing.T) {
	recs := records(paperLayout...)
	base, err := NewBaseline(recs, metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	recs[0].Metrics.AUROC = 0.90 // msp on tinyimagenet-crop, baseline 0.9512
	recs[1].Metrics.FPR95 = 0.01 // odin, baseline 0.048: better
	extra := cell{id: "cifar10", network: "densenet-bc-100", ood: "isun", method: "msp", seed: 1}.record()
	recs = append(recs[:5], extra) // the last baseline group is missing, one new
	c, err := Compare(base, recs, CompareOptions{Floor: Tolerances{Default: 0.02}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"FAIL: 5 records compared (exact metrics, fractions; margin max(4·std, floor)): 1 regression, 1 improvement, 1 missing, 1 new\n",
		"regression   cifar10/densenet-bc-100/tinyimagenet-crop/msp/transductive/seed 1 auroc: 0.9000, worse by 0.0512 than the baseline's 0.9512 ± 0.0000 (n 1; margin 0.0200)  [cifar10_densenet-bc-100_tinyimagenet-crop_msp_transductive_s1_test]\n",
		"improvement  cifar10/densenet-bc-100/tinyimagenet-crop/odin/transductive/seed 1 fpr95: 0.0100, better by 0.0380 than the baseline's 0.0480",
		"missing      " + paperLayout[5].record().Group + ": in the baseline, no record in the results\n",
		"new          " + extra.Key + ": its group is not in the baseline\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if err := c.Err(); err == nil || err.Error() != "1 regression beyond the baseline's spread and 1 baseline group missing from the results" {
		t.Errorf("Err() = %v", err)
	}
}

func TestParseTolerances(t *testing.T) {
	tol, err := ParseTolerances(0.02, "auroc=0.01, fpr95 = 0.05")
	if err != nil || tol.For(AUROC) != 0.01 || tol.For(FPR95) != 0.05 || tol.For(Accuracy) != 0.02 {
		t.Errorf("ParseTolerances = %+v, %v", tol, err)
	}
	for _, bad := range []string{"auroc", "auc=0.1", "auroc=x", "auroc=2", "auroc=0.1,auroc=0.2"} {
		if _, err := ParseTolerances(0.02, bad); err == nil {
			t.Errorf("ParseTolerances(%q) accepted", bad)
		}
	}
	if _, err := ParseTolerances(-1, ""); err == nil {
		t.Error("negative default accepted")
	}
}

func TestReadBaselineErrors(t *testing.T) {
	vals := `{"accuracy": 0.9, "fpr95": 0.1, "detection_error": 0.1, "auroc": 0.9, "aupr_in": 0.9, "aupr_out": 0.9}`
	zero := `{"accuracy": 0, "fpr95": 0, "detection_error": 0, "auroc": 0, "aupr_in": 0, "aupr_out": 0}`
	group := `{"group": "g", "id": "c", "network": "n", "ood": "o", "method": "m", "setting": "s", "n": 1, "mean": ` + vals +
		`, "std": ` + zero + `, "draws": [{"key": "k", "seed": 1, "values": ` + vals + `}]}`
	head := `{"format": "mcdood-baseline", "version": 2, "mode": "exact", "groups": [`
	cases := []struct{ name, text, want string }{
		{"not JSON", "key,auroc\n", "not a baseline file"},
		{"truncated", head + group, "not a baseline file"},
		{"other format", `{"format": "x", "version": 2, "mode": "exact", "groups": [` + group + `]}`, `format "x" version 2`},
		{"version 1", `{"format": "mcdood-baseline", "version": 1, "mode": "exact", "groups": [` + group + `]}`, `version 1, want "mcdood-baseline" version 2`},
		{"unknown field", `{"format": "mcdood-baseline", "version": 2, "mode": "exact", "tolerance": 1, "groups": []}`, `unknown field "tolerance"`},
		{"bad mode", `{"format": "mcdood-baseline", "version": 2, "mode": "sk", "groups": [` + group + `]}`, `unknown metrics mode "sk"`},
		{"no groups", head + `]}`, "no groups"},
		{"duplicate", head + group + "," + group + `]}`, `group "g" listed twice`},
		{"percent", head + strings.Replace(group, `"values": {"accuracy": 0.9, "fpr95": 0.1, "detection_error": 0.1, "auroc": 0.9`, `"values": {"accuracy": 0.9, "fpr95": 0.1, "detection_error": 0.1, "auroc": 90`, 1) + `]}`, "auroc = 90, want a fraction"},
		{"n", head + strings.Replace(group, `"n": 1`, `"n": 2`, 1) + `]}`, "n = 2 with 1 draws"},
		{"mean off its draws", head + strings.Replace(group, `"mean": {"accuracy": 0.9`, `"mean": {"accuracy": 0.8`, 1) + `]}`, "accuracy mean 0.8 and std 0 do not follow from its draws"},
		{"std off its draws", head + strings.Replace(group, `"std": {"accuracy": 0,`, `"std": {"accuracy": 0.1,`, 1) + `]}`, "do not follow from its draws"},
		{"trailing", head + group + `]} {}`, "data after the JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.json")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadBaseline(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ReadBaseline: %v, want it to name %s and say %q", err, path, c.want)
			}
		})
	}
	// The valid group reads.
	path := filepath.Join(t.TempDir(), "b.json")
	if err := os.WriteFile(path, []byte(head+group+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBaseline(path); err != nil {
		t.Errorf("valid baseline: %v", err)
	}
}
