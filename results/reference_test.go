package results

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
	"github.com/mcdood/mcdood/metrics"
)

func TestEmbeddedReferenceParses(t *testing.T) {
	rows := PaperRows()
	// 28 rows of Yu & Aizawa Table 2, 56 of Liang et al. Table 2, 1 of Yu &
	// Aizawa Table 1: the 85 lines after the header.
	count := map[Source]int{}
	for _, r := range rows {
		count[r.Source]++
	}
	if len(rows) != 85 || count[YuAizawa2019Table2] != 28 || count[Liang2018Table2] != 56 || count[YuAizawa2019Table1] != 1 {
		t.Errorf("%d rows by source %v", len(rows), count)
	}
}

// The embedded copy must stay the shared reference file, when there is one.
func TestEmbeddedReferenceIsTheSharedCopy(t *testing.T) {
	shared, err := os.ReadFile(testenv.RepoRoot(t) + "/../shared/reference/paper-results.csv")
	if err != nil {
		t.Skipf("no shared reference beside the repository: %v", err)
	}
	if string(shared) != string(paperResultsCSV) {
		t.Error("results/reference/paper-results.csv differs from ../shared/reference/paper-results.csv")
	}
}

func TestReferenceLookup(t *testing.T) {
	cases := []struct {
		name                     string
		network, id, ood, method string
		prefer                   []Source
		ok                       bool
		source                   Source
		metric                   metrics.Metric
		percent                  float64
		hasMetric                bool
	}{
		// Both papers give odin on CIFAR-10/TinyImageNet crop: the MCD paper's
		// two-head re-run (3.6) by default, the ODIN paper's (4.3) on request.
		{"odin default", "densenet-bc-100", "cifar10", "tinyimagenet-crop", "odin", nil, true, YuAizawa2019Table2, metrics.FPR95, 3.6, true},
		{"odin prefer Liang", "densenet-bc-100", "cifar10", "tinyimagenet-crop", "odin",
			[]Source{Liang2018Table2, YuAizawa2019Table2}, true, Liang2018Table2, metrics.FPR95, 4.3, true},
		// Gaussian noise is only in the ODIN paper.
		{"odin gaussian", "densenet-bc-100", "cifar10", "gaussian", "odin", nil, true, Liang2018Table2, metrics.AUROC, 100.0, true},
		{"mcd", "densenet-bc-100", "cifar100", "isun", "mcd", nil, true, YuAizawa2019Table2, metrics.AUPRIn, 99.6, true},
		// MSP on CIFAR-100/TinyImageNet resize: the ODIN paper's full row
		// (AUROC 71.5) by default; the MCD paper's Table 1 has only AUROC 71.6.
		{"msp default", "densenet-bc-100", "cifar100", "tinyimagenet-resize", "msp", nil, true, Liang2018Table2, metrics.AUROC, 71.5, true},
		{"msp table 1", "densenet-bc-100", "cifar100", "tinyimagenet-resize", "msp",
			[]Source{YuAizawa2019Table1}, true, YuAizawa2019Table1, metrics.AUROC, 71.6, true},
		{"table 1 has no FPR", "densenet-bc-100", "cifar100", "tinyimagenet-resize", "msp",
			[]Source{YuAizawa2019Table1}, true, YuAizawa2019Table1, metrics.FPR95, 0, false},
		{"wrn odin", "wrn-28-10", "cifar100", "isun", "odin", nil, true, Liang2018Table2, metrics.DetectionError, 19.5, true},
		{"eloc has no iSUN", "densenet-bc-100", "cifar10", "isun", "eloc", nil, false, "", metrics.FPR95, 0, false},
		{"our network", "resnet9-16", "cifar10", "isun", "msp", nil, false, "", metrics.FPR95, 0, false},
		{"only one source", "densenet-bc-100", "cifar10", "tinyimagenet-crop", "msp",
			[]Source{YuAizawa2019Table2}, false, "", metrics.FPR95, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			row, ok := Reference(c.network, c.id, c.ood, c.method, c.prefer...)
			if ok != c.ok || row.Source != c.source {
				t.Fatalf("Reference: ok %v source %q, want %v %q", ok, row.Source, c.ok, c.source)
			}
			v, has := row.Percent(c.metric)
			if has != c.hasMetric || v != c.percent {
				t.Errorf("%s = %v (%v), want %v (%v)", c.metric, v, has, c.percent, c.hasMetric)
			}
		})
	}
}

func TestParseSources(t *testing.T) {
	got, err := ParseSources("liang-2018-table2, yu-aizawa-2019-table2")
	if err != nil || !slices.Equal(got, []Source{Liang2018Table2, YuAizawa2019Table2}) {
		t.Errorf("ParseSources = %v, %v", got, err)
	}
	for _, bad := range []string{"", "odin", "liang-2018-table2,liang-2018-table2"} {
		if _, err := ParseSources(bad); err == nil {
			t.Errorf("ParseSources(%q) accepted", bad)
		}
	}
}

func TestParsePaperResultsErrors(t *testing.T) {
	const header = "source,network,id,ood,method,fpr95,detection_error,auroc,aupr_in,aupr_out\n"
	const yu = `"Yu & Aizawa ICCV 2019, Table 2 (x)"`
	cases := []struct{ name, text, want string }{
		{"bad header", "source,net\n", "p.csv:1: header"},
		{"no rows", header, "p.csv: no rows"},
		{"unknown source", header + "Smith 2020,d,c,o,m,1,1,1,1,1\n", `p.csv:2: unknown source "Smith 2020"`},
		{"not a number", header + yu + ",d,c,o,m,1,x,1,1,1\n", `p.csv:2: detection_error "x" is not a percentage`},
		{"over 100", header + yu + ",d,c,o,m,1,1,101,1,1\n", `p.csv:2: auroc "101" is not a percentage`},
		{"no metric", header + yu + ",d,c,o,m,,,,,\n", "p.csv:2: no metric given"},
		{"empty network", header + yu + ",,c,o,m,1,1,1,1,1\n", "p.csv:2: empty network"},
		{"short row", header + yu + ",d,c,o\n", "wrong number of fields"},
		{"duplicate", header + yu + ",d,c,o,m,1,1,1,1,1\n" + yu + ",d,c,o,m,2,2,2,2,2\n", "p.csv:3: same source, network, sets and method as line 2"},
	}
	for _, c := range cases {
		_, err := parsePaperResults(strings.NewReader(c.text), "p.csv")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
