package results

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/ood/setting"
)

// Format is a table output format.
type Format string

// The table formats.
const (
	Text     Format = "text"     // box-drawn tables (tablewriter) for a terminal
	Markdown Format = "markdown" // GitHub-flavoured Markdown
	CSV      Format = "csv"      // one row per record, for analysis
)

// ParseFormat reads "text", "markdown" (or "md") or "csv".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "text", "markdown", "csv":
		return Format(s), nil
	case "md":
		return Markdown, nil
	}
	return "", fmt.Errorf("unknown table format %q (want text, markdown or csv)", s)
}

// Write renders the table in format f.
func (t *Table) Write(w io.Writer, f Format) error {
	switch f {
	case Text:
		return t.WriteText(w)
	case Markdown:
		return t.WriteMarkdown(w)
	case CSV:
		return t.WriteCSV(w)
	}
	return fmt.Errorf("results: unknown table format %q", f)
}

// missing stands for a number that is not there.
const missing = "—"

// The labels of a group's row kinds.
const (
	kindOurs  = "ours"
	kindPaper = "paper"
	kindDelta = "Δ"
	kindCI    = "CI"
)

// grid is one group laid out as strings: a header of (title, methods)
// pairs and rows of cells, every slash-separated cell already aligned.
type grid struct {
	header  [][2]string // per column: first line, second line ("" when none)
	methods [][]string  // per column: the method names of its slash cells (nil for label columns)
	rows    [][]string
}

// layout builds the grid of a group: per OOD set an "ours" row, then
// "paper" and "Δ" (ours − paper) rows when there are published numbers,
// then a "CI" row when asked for. Each metric cell holds the methods'
// values separated by " / ", as the papers' tables do (Liang et al., ICLR
// 2018, Table 2: "Baseline/ODIN"), each value padded to its method's width
// so that the columns line up.
func (t *Table) layout(g *Group) grid {
	type line struct {
		ood, kind string
		parts     [][]string // per metric column (and the source column last): per method
	}
	withSource := len(g.Sources) > 0
	shown := t.Options.shownMetrics()
	var lines []line
	for _, row := range g.Rows {
		kinds := []string{kindOurs}
		if row.hasPaper() {
			kinds = append(kinds, kindPaper, kindDelta)
		}
		if t.Options.CI && row.hasCI() {
			kinds = append(kinds, kindCI)
		}
		for i, kind := range kinds {
			l := line{kind: kind}
			if i == 0 {
				l.ood = row.OOD
			}
			for _, m := range shown {
				k := slices.Index(metrics.Detection, m)
				parts := make([]string, len(row.Cells))
				for j, c := range row.Cells {
					parts[j] = cellText(c, kind, k, m)
				}
				l.parts = append(l.parts, parts)
			}
			if withSource {
				parts := make([]string, len(row.Cells))
				for j, c := range row.Cells {
					parts[j] = ""
					if kind == kindPaper {
						parts[j] = missing
						if c != nil && c.Paper != nil {
							parts[j] = fmt.Sprintf("[%d]", g.footnote(c.Paper.Source))
						}
					}
				}
				l.parts = append(l.parts, parts)
			}
			lines = append(lines, l)
		}
	}
	nCols := len(shown)
	if withSource {
		nCols++
	}
	// widths[col][method]: the widest value, header name included.
	widths := make([][]int, nCols)
	for col := range widths {
		widths[col] = make([]int, len(g.Methods))
		for j, m := range g.Methods {
			widths[col][j] = width(m)
		}
	}
	for _, l := range lines {
		for col, parts := range l.parts {
			for j, p := range parts {
				widths[col][j] = max(widths[col][j], width(p))
			}
		}
	}
	gr := grid{header: [][2]string{{"OOD", ""}, {"", ""}}, methods: [][]string{nil, nil}}
	for col := range nCols {
		title := "paper source"
		if col < len(shown) {
			m := shown[col]
			title = m.Label() + " " + m.Arrow()
		}
		gr.header = append(gr.header, [2]string{title, joinAligned(g.Methods, widths[col])})
		gr.methods = append(gr.methods, g.Methods)
	}
	for _, l := range lines {
		cells := []string{l.ood, l.kind}
		for col, parts := range l.parts {
			if col == len(shown) && l.kind != kindPaper {
				cells = append(cells, "")
				continue
			}
			cells = append(cells, joinAligned(parts, widths[col]))
		}
		gr.rows = append(gr.rows, cells)
	}
	return gr
}

// cellText is one method's value of metric m (index k) in a row of kind.
func cellText(c *Cell, kind string, k int, m metrics.Metric) string {
	if c == nil {
		return missing
	}
	switch kind {
	case kindOurs:
		s := c.Ours[k]
		if s.N > 1 {
			return fmt.Sprintf("%.1f±%.1f", round1(s.Mean), round1(s.Std))
		}
		return fmt.Sprintf("%.1f", round1(s.Mean))
	case kindPaper:
		if c.Paper == nil {
			return missing
		}
		if v, ok := c.Paper.Percent(m); ok {
			return fmt.Sprintf("%.1f", v)
		}
	case kindDelta:
		if c.Paper == nil {
			return missing
		}
		if v, ok := c.Paper.Percent(m); ok {
			return formatDelta(round1(c.Ours[k].Mean) - v)
		}
	case kindCI:
		if c.CI != nil {
			return fmt.Sprintf("%.1f–%.1f", round1(c.CI[k].Low), round1(c.CI[k].High))
		}
	}
	return missing
}

// round1 rounds to one decimal, half away from zero, before the tables
// print a number, so that a difference reads as the difference of the
// printed numbers (fmt alone rounds 0.25 down to "0.2", math.Round up to
// 0.3). Negative zero becomes zero.
func round1(v float64) float64 {
	r := math.Round(10*v) / 10
	if r == 0 {
		return 0
	}
	return r
}

// formatDelta prints a difference of percentages with its sign, "0.0" when
// it rounds to zero.
func formatDelta(d float64) string {
	if math.Abs(d) < 0.05 {
		return "0.0"
	}
	return fmt.Sprintf("%+.1f", d)
}

// width is the display width of s (every rune the tables print is one
// column wide).
func width(s string) int { return utf8.RuneCountInString(s) }

// joinAligned right-aligns each part to its width and joins them with " / ".
func joinAligned(parts []string, widths []int) string {
	var b strings.Builder
	for j, p := range parts {
		if j > 0 {
			b.WriteString(" / ")
		}
		b.WriteString(strings.Repeat(" ", widths[j]-width(p)))
		b.WriteString(p)
	}
	return b.String()
}

// titleLines describe a group: what was measured, on what, how often, and
// what the published numbers beside ours are.
func (t *Table) titleLines(g *Group) (heading string, lines []string) {
	heading = fmt.Sprintf("%s · %s · %s", g.ID, g.Network, g.Setting)
	acc := fmt.Sprintf("%.1f%%", g.Accuracy.Mean)
	seeds := "seed " + joinSeeds(g.Seeds)
	if len(g.Seeds) > 1 {
		acc = fmt.Sprintf("%.1f ± %.1f%%", g.Accuracy.Mean, g.Accuracy.Std)
		seeds = "mean ± std over seeds " + joinSeeds(g.Seeds)
	}
	lines = append(lines,
		fmt.Sprintf("ID set %s, network %s, test accuracy %s (%s).", g.ID, g.Network, acc, seeds),
		fmt.Sprintf("Setting %s.", setting.Setting(g.Setting).Describe()))
	mode := "exact metrics (package metrics), FPR@95 ID-positive (the share of OOD images accepted when 95% of ID images are)"
	switch t.Options.Mode {
	case metrics.Paper:
		mode = "paper-mode metrics (the MCD authors' test.py)"
	case metrics.ExactOODPositive:
		mode = "exact metrics (package metrics), FPR@95 OOD-positive as OpenOOD's (the share of ID images flagged when 95% of OOD images are; the published FPR@95s are ID-positive and not shown)"
	}
	values := "Our values"
	if len(g.Seeds) > 1 {
		values = fmt.Sprintf("Our values are mean ± std over %d seeds,", len(g.Seeds))
	}
	lines = append(lines, fmt.Sprintf("%s in percent, %s; ↓ lower is better, ↑ higher is better; each cell %s.",
		values, mode, strings.Join(g.Methods, " / ")))
	switch {
	case g.PaperNetwork == "":
		lines = append(lines, fmt.Sprintf("No published numbers for network %s.", g.Network))
	case len(g.Sources) == 0:
		lines = append(lines, fmt.Sprintf("No published numbers for these methods and OOD sets on %s.", g.PaperNetwork))
	case g.PaperNetwork != g.Network:
		lines = append(lines, fmt.Sprintf("paper: published numbers for %s, not %s: the comparison network differs; Δ = ours − paper.",
			g.PaperNetwork, g.Network))
	default:
		lines = append(lines, "paper: published numbers; Δ = ours − paper.")
	}
	return heading, lines
}

// noteLines follow a group's table: the sources and what is incomplete.
func (t *Table) noteLines(g *Group) []string {
	var lines []string
	for k, s := range g.Sources {
		lines = append(lines, fmt.Sprintf("[%d] %s", k+1, citation(s)))
	}
	if t.Options.CI {
		lines = append(lines, "CI: the records' bootstrap percentile intervals (with several seeds, from the lowest to the highest bound).")
	}
	if inc := g.incomplete(); len(inc) > 0 {
		lines = append(lines, "Fewer seeds than the table: "+strings.Join(inc, "; ")+".")
	}
	return lines
}

// citation is the CSV's own wording of a source.
func citation(s Source) string {
	for _, r := range embeddedRows() {
		if r.Source == s {
			return r.Citation
		}
	}
	return string(s)
}

func joinSeeds(seeds []uint64) string {
	s := make([]string, len(seeds))
	for k, v := range seeds {
		s[k] = strconv.FormatUint(v, 10)
	}
	return strings.Join(s, ", ")
}

// WriteText renders every group as a box-drawn table (tablewriter) under
// its title lines and above its notes.
func (t *Table) WriteText(w io.Writer) error {
	var b bytes.Buffer
	for i, g := range t.Groups {
		if i > 0 {
			b.WriteString("\n")
		}
		heading, lines := t.titleLines(g)
		b.WriteString(heading + "\n")
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
		gr := t.layout(g)
		tab := tablewriter.NewTable(&b,
			tablewriter.WithHeaderAutoFormat(tw.Off),
			tablewriter.WithHeaderAutoWrap(tw.WrapNone),
			tablewriter.WithRowAutoWrap(tw.WrapNone),
			tablewriter.WithTrimSpace(tw.Off),
			tablewriter.WithHeaderAlignment(tw.AlignLeft),
		)
		header := make([]any, len(gr.header))
		for k, h := range gr.header {
			header[k] = strings.TrimRight(h[0]+"\n"+h[1], "\n")
		}
		tab.Header(header...)
		if err := tab.Bulk(gr.rows); err != nil {
			return err
		}
		if err := tab.Render(); err != nil {
			return err
		}
		for _, l := range t.noteLines(g) {
			b.WriteString(l + "\n")
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteMarkdown renders every group as a GitHub-flavoured Markdown table
// under a level-3 heading.
func (t *Table) WriteMarkdown(w io.Writer) error {
	var b bytes.Buffer
	for i, g := range t.Groups {
		if i > 0 {
			b.WriteString("\n")
		}
		heading, lines := t.titleLines(g)
		fmt.Fprintf(&b, "### %s\n\n", mdEscape(heading))
		for _, l := range lines {
			b.WriteString(mdEscape(l) + "  \n")
		}
		b.WriteString("\n")
		gr := t.layout(g)
		header := make([]string, len(gr.header))
		for k, h := range gr.header {
			header[k] = h[0]
			if gr.methods[k] != nil {
				header[k] += "<br>" + strings.Join(gr.methods[k], " / ")
			}
		}
		rows := append([][]string{header}, gr.rows...)
		widths := make([]int, len(header))
		for _, r := range rows {
			for k, c := range r {
				widths[k] = max(widths[k], width(mdEscape(c)), 3)
			}
		}
		for n, r := range rows {
			b.WriteString("|")
			for k, c := range r {
				c = mdEscape(c)
				if k < 2 {
					c += strings.Repeat(" ", widths[k]-width(c))
				} else {
					c = strings.Repeat(" ", widths[k]-width(c)) + c
				}
				b.WriteString(" " + c + " |")
			}
			b.WriteString("\n")
			if n == 0 {
				b.WriteString("|")
				for k := range r {
					if k < 2 {
						b.WriteString(" " + strings.Repeat("-", widths[k]) + " |")
					} else {
						b.WriteString(" " + strings.Repeat("-", widths[k]-1) + ": |")
					}
				}
				b.WriteString("\n")
			}
		}
		if notes := t.noteLines(g); len(notes) > 0 {
			b.WriteString("\n")
			for _, l := range notes {
				b.WriteString(mdEscape(l) + "  \n")
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// mdEscape escapes what Markdown would read as table syntax or emphasis.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`).Replace(s)
}

// CSVHeader returns the CSV columns: the cell, our numbers in percent, the
// intervals (with TableOptions.CI), and the published numbers in percent
// (empty where there are none).
func (t *Table) CSVHeader() []string {
	h := []string{"id", "network", "ood", "method", "setting", "seed", "accuracy"}
	for _, m := range metrics.Detection {
		h = append(h, string(m))
	}
	if t.Options.CI {
		for _, m := range metrics.Detection {
			h = append(h, string(m)+"_low", string(m)+"_high")
		}
	}
	h = append(h, "paper_network", "paper_source")
	for _, m := range metrics.Detection {
		h = append(h, "paper_"+string(m))
	}
	return append(h, "mode", "detector", "plan", "key")
}

// WriteCSV writes one row per record (per cell and seed), in the order of
// the tables: our numbers in percent to four decimals, published ones as
// printed.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.CSVHeader()); err != nil {
		return err
	}
	pct := func(v float64) string { return strconv.FormatFloat(100*v, 'f', 4, 64) }
	for _, g := range t.Groups {
		for _, row := range g.Rows {
			for _, c := range row.Cells {
				if c == nil {
					continue
				}
				for _, r := range c.Records {
					rep, _ := r.Report(t.Options.Mode) // checked by BuildTable
					rec := []string{r.ID, r.Network, r.OOD, r.Method, r.Setting, strconv.FormatUint(r.Seed, 10), pct(r.Accuracy)}
					for _, m := range metrics.Detection {
						v, _ := rep.Get(m)
						rec = append(rec, pct(v))
					}
					if t.Options.CI {
						for _, m := range metrics.Detection {
							if r.CI == nil {
								rec = append(rec, "", "")
								continue
							}
							iv, _ := r.CI.Get(m)
							rec = append(rec, pct(iv.Low), pct(iv.High))
						}
					}
					if c.Paper != nil {
						rec = append(rec, c.Paper.Network, string(c.Paper.Source))
						for _, m := range metrics.Detection {
							v, ok := c.Paper.Percent(m)
							rec = append(rec, map[bool]string{true: strconv.FormatFloat(v, 'f', 1, 64)}[ok])
						}
					} else {
						rec = append(rec, make([]string, 2+len(metrics.Detection))...)
					}
					rec = append(rec, t.Options.Mode.String(), r.Detector, r.Plan, r.Key)
					if err := cw.Write(rec); err != nil {
						return err
					}
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
