package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/results"
)

// writeScores writes content to name in a temporary directory.
func writeScores(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The hand case of the metrics tests: ID {3,2,2,1} vs OOD {2,1,0} gives
// FPR95 2/3, detection error 7/24, AUROC 19/24, AUPR-In 19/24, AUPR-Out 13/18.
const (
	handID  = "# ID scores\n3\n2\n2   # a trailing comment\n\n1\n"
	handOOD = "\uFEFF2\r\n1\r\n0\r\n"
)

func TestMetricsJSON(t *testing.T) {
	id, ood := writeScores(t, "id.txt", handID), writeScores(t, "ood.txt", handOOD)
	code, out, errOut := runCLI(t, nil, "metrics", "--id", id, "--ood", ood, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var got map[string]float64
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not one JSON object of numbers: %v\n%s", err, out)
	}
	want := map[string]float64{
		"fpr95": 2.0 / 3, "detection_error": 7.0 / 24, "auroc": 19.0 / 24, "aupr_in": 19.0 / 24, "aupr_out": 13.0 / 18,
	}
	keys := func(m map[string]float64) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	if !slices.Equal(keys(got), keys(want)) {
		t.Fatalf("keys %v, want %v", keys(got), keys(want))
	}
	for k, v := range want {
		if math.Abs(got[k]-v) > 1e-12 {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestMetricsText(t *testing.T) {
	id, ood := writeScores(t, "id.txt", handID), writeScores(t, "ood.txt", handOOD)
	code, out, errOut := runCLI(t, nil, "metrics", "--id", id, "--ood", ood)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"4 ID and 3 OOD scores, exact mode",
		"FPR@95TPR         66.67\n",
		"Detection error   29.17\n",
		"AUROC             79.17\n",
		"AUPR-In           79.17\n",
		"AUPR-Out          72.22\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestMetricsPaperFallbackAndBootstrap(t *testing.T) {
	id, ood := writeScores(t, "id.txt", handID), writeScores(t, "ood.txt", handOOD)
	code, out, errOut := runCLI(t, nil, "metrics", "--id", id, "--ood", ood, "--mode", "paper",
		"--format", "json", "--bootstrap", "50", "--seed", "3")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var got struct {
		FPR95    *float64 `json:"fpr95"`
		Fallback bool     `json:"fpr95_fallback"`
		CI       map[string]struct{ Low, High float64 }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	// Four ID scores: no TPR in [0.9495, 0.9505], so the exact 2/3.
	if !got.Fallback || got.FPR95 == nil || math.Abs(*got.FPR95-2.0/3) > 1e-12 {
		t.Errorf("fallback %v fpr95 %v:\n%s", got.Fallback, got.FPR95, out)
	}
	if !strings.Contains(errOut, "warning: no threshold has a TPR in test.py's window") {
		t.Errorf("no fallback warning on stderr: %q", errOut)
	}
	if len(got.CI) != 5 || got.CI["auroc"].Low > got.CI["auroc"].High {
		t.Errorf("ci %+v", got.CI)
	}
	// Text mode shows the intervals and the note.
	code, out, _ = runCLI(t, nil, "metrics", "--id", id, "--ood", ood, "--mode", "paper", "--bootstrap", "50")
	if code != 0 || !strings.Contains(out, "95% bootstrap intervals (50 resamples, seed 1)") ||
		!strings.Contains(out, "(exact: no threshold in test.py's TPR window)") || !strings.Contains(out, "  [") {
		t.Errorf("exit %d, text:\n%s", code, out)
	}
}

func TestMetricsStdin(t *testing.T) {
	old := metricsStdin
	defer func() { metricsStdin = old }()
	metricsStdin = strings.NewReader("1\n0.5\n")
	ood := writeScores(t, "ood.txt", "0\n-1\n")
	code, out, errOut := runCLI(t, nil, "metrics", "--id", "-", "--ood", ood, "--format", "json")
	if code != 0 || !strings.Contains(out, `"auroc": 1`) {
		t.Errorf("exit %d, stdout %s, stderr %q", code, out, errOut)
	}
}

func TestMetricsErrors(t *testing.T) {
	good := writeScores(t, "good.txt", "1\n2\n")
	cases := []struct {
		name    string
		idText  string // written to bad.txt and passed as --id; "" passes good
		args    []string
		code    int
		wantErr string
	}{
		{"malformed line", "0.5\n\n# c\nabc\n", nil, 1, "bad.txt:4: cannot read \"abc\" as a number"},
		{"two fields", "0.5 0.7\n", nil, 1, "bad.txt:1: want one score per line, got 2 fields"},
		{"comma decimal", "1\n0,5\n", nil, 1, "bad.txt:2: cannot read \"0,5\" as a number"},
		{"NaN", "1\nNaN\n", nil, 1, "bad.txt:2: score \"NaN\" is not finite"},
		{"Inf", "-inf\n", nil, 1, "bad.txt:1: score \"-inf\" is not finite"},
		{"overflow", "1e999\n", nil, 1, "bad.txt:1: score \"1e999\" is out of the float64 range"},
		{"only comments", "# nothing\n\n", nil, 1, "bad.txt: no scores"},
		{"missing file", "", []string{"--id", "/nonexistent/x.txt", "--ood", "GOOD"}, 1, "/nonexistent/x.txt"},
		{"missing --ood", "", []string{"--id", "GOOD"}, 2, "both --id and --ood are required"},
		{"bad mode", "", []string{"--id", "GOOD", "--ood", "GOOD", "--mode", "sklearn"}, 2, `unknown metrics mode "sklearn"`},
		{"bad format", "", []string{"--id", "GOOD", "--ood", "GOOD", "--format", "csv"}, 2, `unknown format "csv"`},
		{"stray argument", "", []string{"--id", "GOOD", "--ood", "GOOD", "extra"}, 2, "unexpected arguments"},
		{"both stdin", "", []string{"--id", "-", "--ood", "-"}, 2, "only one of --id and --ood"},
		{"one resample", "", []string{"--id", "GOOD", "--ood", "GOOD", "--bootstrap", "1"}, 2, "--bootstrap wants 0"},
		{"bad level", "", []string{"--id", "GOOD", "--ood", "GOOD", "--bootstrap", "10", "--level", "95"}, 2, "--level 95 outside (0, 1)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"metrics"}
			if c.idText != "" {
				args = append(args, "--id", writeScores(t, "bad.txt", c.idText), "--ood", good)
			}
			for _, a := range c.args {
				if a == "GOOD" {
					a = good
				}
				args = append(args, a)
			}
			code, out, errOut := runCLI(t, nil, args...)
			if code != c.code || !strings.Contains(errOut, c.wantErr) {
				t.Errorf("exit %d (want %d), stderr %q, want it to contain %q", code, c.code, errOut, c.wantErr)
			}
			if out != "" {
				t.Errorf("stdout %q on error", out)
			}
		})
	}
}

// A NaN inside a .npy or .npz, a .csv without the rows of one set: errors
// naming the file (and the array and the value).
func TestMetricsScoreFileErrors(t *testing.T) {
	npy := func(name string, v []float64) string {
		var b bytes.Buffer
		if err := results.WriteNPY(&b, v); err != nil {
			t.Fatal(err)
		}
		return writeScores(t, name, b.String())
	}
	npz := func(name string, id, ood []float64) string {
		var b bytes.Buffer
		if err := results.WriteNPZ(&b, map[string][]float64{"id": id, "ood": ood}, []string{"id", "ood"}); err != nil {
			t.Fatal(err)
		}
		return writeScores(t, name, b.String())
	}
	good := npy("ood.npy", []float64{0.1, 0.2})
	nan := npy("id.npy", []float64{0.5, math.NaN()})
	empty := npy("empty.npy", nil)
	pairNaN := npz("pair.npz", []float64{1, 2}, []float64{0, math.Inf(-1)})
	noOOD := writeScores(t, "no-ood.csv", "set,score\nid,0.5\nid,0.7\n")
	noID := writeScores(t, "no-id.csv", "set,score\nood,0.5\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--id", nan, "--ood", good}, nan + ": value 1 (0-based) is NaN, want a finite score"},
		{[]string{"--id", good, "--ood", empty}, empty + ": no scores (an empty array)"},
		{[]string{"--scores", pairNaN}, pairNaN + ": ood.npy: value 1 (0-based) is -Inf, want a finite score"},
		{[]string{"--scores", noOOD}, noOOD + ": no ood rows (want rows of set id and of set ood)"},
		{[]string{"--scores", noID}, noID + ": no id rows"},
	} {
		code, out, errOut := runCLI(t, nil, append([]string{"metrics"}, c.args...)...)
		if code != 1 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1 and %q", c.args, code, out, errOut, c.want)
		}
	}
}
