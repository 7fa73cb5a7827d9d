package loaders

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// reportColumns are the columns of WriteReports, and whether each is a
// count (right-aligned, left out when no report fills it).
var reportColumns = []struct {
	name  string
	count bool
}{
	{"set", false}, {"role", false}, {"status", false},
	{"train", true}, {"test", true}, {"val", true}, {"split test", true}, {"cells", true},
	{"source or problem", false},
}

// WriteReports writes reports ("mcdood data check", a run's data pass) as
// one table: set, role, status, image counts, the paper's split, the cells
// that need the set, and its source (relative to root) or what is wrong; a
// count column no report fills is left out. Then each warning once, how the
// paper's split is made (when the table shows it), the sets built from Tiny
// ImageNet, and the missing sets that can be fetched with the command that does.
func WriteReports(w io.Writer, root string, reports []Report) error {
	rows := make([][]string, len(reports))
	for i, r := range reports {
		rows[i] = r.row(root, seedCount(reports, r.Name) > 1)
	}
	var header []string
	var align []tw.Align
	var keep []int
	for c, col := range reportColumns {
		if col.count && !slices.ContainsFunc(rows, func(row []string) bool { return row[c] != "" }) {
			continue
		}
		keep = append(keep, c)
		header = append(header, col.name)
		align = append(align, map[bool]tw.Align{true: tw.AlignRight, false: tw.AlignLeft}[col.count])
	}
	table := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
	)
	table.Header(header)
	for _, row := range rows {
		cells := make([]string, len(keep))
		for i, c := range keep {
			cells[i] = row[c]
		}
		if err := table.Append(cells); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	writeWarnings(w, reports)
	if slices.ContainsFunc(reports, func(r Report) bool { return r.Val > 0 }) {
		fmt.Fprintf(w, "val, split test: the paper's split (numpy seed %d permutation, first %d images for validation).\n", PaperSplitSeed, PaperValImages)
	}
	writeDerived(w, reports)
	writeMissing(w, root, reports)
	return nil
}

// seedCount counts the seeds an OOD set is opened with.
func seedCount(reports []Report, name string) int {
	n := 0
	for _, r := range reports {
		if r.Role == RoleOOD && r.Name == name {
			n++
		}
	}
	return n
}

// row is the report's line of the table, one cell per reportColumns.
func (r Report) row(root string, showSeed bool) []string {
	count := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	name := r.Name
	if showSeed && r.Seed != 0 {
		name += fmt.Sprintf(" (seed %d)", r.Seed)
	}
	status := string(r.Status)
	if r.Status == Ready && len(r.Warnings) > 0 {
		status = fmt.Sprintf("ok, %d warning(s)", len(r.Warnings))
	}
	detail := r.Problem
	if detail == "" {
		detail = relTo(root, r.Source)
		if r.Note != "" {
			detail += " (" + r.Note + ")"
		}
	}
	return []string{name, r.Role, status, count(r.Train), count(r.Test), count(r.Val), count(r.SplitTest), count(r.Cells), detail}
}

// writeWarnings writes each warning once ("NAME: warning: …"): a set
// opened with several seeds warns once.
func writeWarnings(w io.Writer, reports []Report) {
	var printed []string
	for _, r := range reports {
		for _, wn := range r.Warnings {
			line := fmt.Sprintf("%s: warning: %s", r.Name, wn)
			if !slices.Contains(printed, line) {
				printed = append(printed, line)
				fmt.Fprintln(w, line)
			}
		}
	}
}

// writeDerived says which sets were built from Tiny ImageNet's test images:
// ODIN's sets among them can be fetched as ODIN's archives; the FIX twins
// are always derived.
func writeDerived(w io.Writer, reports []Report) {
	var odin, fix []string
	for _, r := range reports {
		switch {
		case !r.FromTiny || slices.Contains(odin, r.Name) || slices.Contains(fix, r.Name):
		case slices.Contains(FetchNames(), r.Name):
			odin = append(odin, r.Name)
		default:
			fix = append(fix, r.Name)
		}
	}
	if len(odin) > 0 {
		fmt.Fprintf(w, "derived: %s built from Tiny ImageNet's test images as ODIN built its sets (JPEG quality 75; the resize by nearest neighbour, aliased); ODIN's own archives are used when present (%s).\n",
			strings.Join(odin, ", "), FetchCommand("", odin...))
	}
	if len(fix) > 0 {
		fmt.Fprintf(w, "derived: %s, the clean FIX twins (no JPEG step; the resize antialiased), always built from Tiny ImageNet's test images.\n", strings.Join(fix, ", "))
	}
}

// writeMissing names the missing sets that can be fetched and the fetch
// names that get them (a FIX twin comes with tinyimagenet).
func writeMissing(w io.Writer, root string, reports []Report) {
	var missing, fetch []string
	for _, r := range reports {
		if r.Status != Missing || r.Fetch == "" || slices.Contains(missing, r.Name) {
			continue
		}
		missing = append(missing, r.Name)
		if !slices.Contains(fetch, r.Fetch) {
			fetch = append(fetch, r.Fetch)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(w, "missing: %s; get them with: %s\n", strings.Join(missing, ", "), FetchCommand(root, fetch...))
	}
}
