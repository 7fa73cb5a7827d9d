package results

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mcdood/mcdood/metrics"
)

// paperResultsCSV is reference/paper-results.csv: the papers' published
// numbers, in percent (reference/README.md lists the sources).
//
//go:embed reference/paper-results.csv
var paperResultsCSV []byte

// Source is a published table that numbers come from.
type Source string

// The sources of reference/paper-results.csv.
const (
	// YuAizawa2019Table2 is Yu & Aizawa, ICCV 2019, Table 2: DenseNet-BC-100
	// on CIFAR-10/100, methods odin, eloc and mcd; ODIN and ELOC re-run by the
	// authors on a two-head network.
	YuAizawa2019Table2 Source = "yu-aizawa-2019-table2"
	// YuAizawa2019Table1 is Yu & Aizawa, ICCV 2019, Table 1: one MSP AUROC
	// (DenseNet-BC-100, CIFAR-100 vs TinyImageNet resize).
	YuAizawa2019Table1 Source = "yu-aizawa-2019-table1"
	// Liang2018Table2 is Liang et al., ICLR 2018 (ODIN), Table 2:
	// DenseNet-BC-100 and WRN-28-10, methods msp and odin, single-head
	// networks.
	Liang2018Table2 Source = "liang-2018-table2"
)

// sourcePrefixes maps the CSV's source column to a Source by its start.
var sourcePrefixes = []struct {
	prefix string
	source Source
}{
	{"Yu & Aizawa ICCV 2019, Table 2", YuAizawa2019Table2},
	{"Yu & Aizawa ICCV 2019, Table 1", YuAizawa2019Table1},
	{"Liang et al. ICLR 2018 (ODIN), Table 2", Liang2018Table2},
}

// DefaultPreference is the order in which Reference looks for a published
// number: the MCD paper's Table 2 first (for odin, its two-head re-run on the
// network MCD uses, the fairer comparison for a two-head reproduction), then
// the ODIN paper's Table 2 (msp, and odin where the MCD paper has no row:
// WRN-28-10, uniform and gaussian noise), and last the single MSP AUROC of
// the MCD paper's Table 1, which Liang2018Table2 already covers in full.
var DefaultPreference = []Source{YuAizawa2019Table2, Liang2018Table2, YuAizawa2019Table1}

func (s Source) known() bool {
	for _, p := range sourcePrefixes {
		if p.source == s {
			return true
		}
	}
	return false
}

// ParseSources reads a comma-separated list of sources, as for a --prefer
// flag.
func ParseSources(list string) ([]Source, error) {
	var out []Source
	for _, f := range strings.Split(list, ",") {
		s := Source(strings.TrimSpace(f))
		if !s.known() {
			return nil, fmt.Errorf("unknown source %q (want %s, %s or %s)", s, YuAizawa2019Table2, Liang2018Table2, YuAizawa2019Table1)
		}
		if slices.Contains(out, s) {
			return nil, fmt.Errorf("source %q listed twice", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// PaperRow is one row of the published numbers: five metrics in percent, as
// printed (one decimal).
type PaperRow struct {
	Source   Source
	Citation string // the source as the CSV spells it, for footnotes
	Network  string
	ID       string
	OOD      string
	Method   string
	percent  [5]float64 // in metrics.Detection order
	given    [5]bool    // false where the source gives no number
}

// Percent returns detection metric m in percent, and false when the source
// does not give it (or m is not a detection metric).
func (p PaperRow) Percent(m metrics.Metric) (float64, bool) {
	k := slices.Index(metrics.Detection, m)
	if k < 0 || !p.given[k] {
		return 0, false
	}
	return p.percent[k], true
}

// PaperRows returns every published row in the CSV's order.
func PaperRows() []PaperRow {
	return slices.Clone(embeddedRows())
}

// Reference returns the published numbers of method on (network, ID set, OOD
// set) from the first source in prefer that has them (DefaultPreference when
// prefer is empty), and false when none has.
func Reference(network, id, ood, method string, prefer ...Source) (PaperRow, bool) {
	if len(prefer) == 0 {
		prefer = DefaultPreference
	}
	rows := embeddedRows()
	for _, s := range prefer {
		for _, r := range rows {
			if r.Source == s && r.Network == network && r.ID == id && r.OOD == ood && r.Method == method {
				return r, true
			}
		}
	}
	return PaperRow{}, false
}

// HasReferenceNetwork reports whether any source has numbers for network.
func HasReferenceNetwork(network string) bool {
	return slices.ContainsFunc(embeddedRows(), func(r PaperRow) bool { return r.Network == network })
}

var embeddedRows = sync.OnceValue(func() []PaperRow {
	rows, err := parsePaperResults(bytes.NewReader(paperResultsCSV), "reference/paper-results.csv")
	if err != nil {
		panic("results: embedded " + err.Error()) // the tests read it
	}
	return rows
})

// paperHeader is the CSV's header.
var paperHeader = []string{"source", "network", "id", "ood", "method", "fpr95", "detection_error", "auroc", "aupr_in", "aupr_out"}

// parsePaperResults reads the published-numbers CSV; errors name the file
// (name) and the 1-based line.
func parsePaperResults(r io.Reader, name string) ([]PaperRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0 // every row as long as the header
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", name, err)
	}
	if !slices.Equal(header, paperHeader) {
		return nil, fmt.Errorf("%s:1: header %q, want %q", name, header, paperHeader)
	}
	var rows []PaperRow
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		row, err := parsePaperRow(rec)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		id := strings.Join([]string{string(row.Source), row.Network, row.ID, row.OOD, row.Method}, "/")
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("%s:%d: same source, network, sets and method as line %d", name, line, prev)
		}
		seen[id] = line
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", name)
	}
	return rows, nil
}

func parsePaperRow(rec []string) (PaperRow, error) {
	row := PaperRow{Citation: rec[0], Network: rec[1], ID: rec[2], OOD: rec[3], Method: rec[4]}
	for _, p := range sourcePrefixes {
		if strings.HasPrefix(rec[0], p.prefix) {
			row.Source = p.source
		}
	}
	if row.Source == "" {
		return PaperRow{}, fmt.Errorf("unknown source %q", rec[0])
	}
	for k, f := range rec[1:5] {
		if f == "" {
			return PaperRow{}, fmt.Errorf("empty %s", paperHeader[1+k])
		}
	}
	known := 0
	for k, f := range rec[5:] {
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || !(v >= 0 && v <= 100) {
			return PaperRow{}, fmt.Errorf("%s %q is not a percentage in [0, 100]", paperHeader[5+k], f)
		}
		row.percent[k], row.given[k] = v, true
		known++
	}
	if known == 0 {
		return PaperRow{}, errors.New("no metric given")
	}
	return row, nil
}
