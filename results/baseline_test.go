package results

import (
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
