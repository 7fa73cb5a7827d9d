package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/results"
)

// ReproduceOptions are Reproduce's: the run's, and its report's.
type ReproduceOptions struct {
	Options
	// ReferenceNetwork is the network whose published numbers stand beside
	// networks the papers do not report (results.TableOptions).
	ReferenceNetwork string
	// Stdout gets the transcript: the plan, the data pass, what ran, the
	// table.
	Stdout io.Writer
	// Unverified, when set, is told the record files that could not be
	// checked against their scores, before the tables are written.
	Unverified func(files []string)
}

// Reproduce is "mcdood reproduce" after its flags: it runs the data pass (its table to Stdout), runs the plan's pending cells (Run), says
// what ran, and writes the tables and plots of every record in Out
// (results.WriteReport) and the text table to Stdout. A run that made Out
// and left it empty removes it. Cells that failed are an error after the
// tables.
func Reproduce(ctx context.Context, plan *experiments.Plan, o ReproduceOptions) (*Summary, error) {
	_, statErr := os.Stat(o.Out)
	defer func() {
		if errors.Is(statErr, os.ErrNotExist) {
			os.Remove(o.Out) // made by this run, which left it empty
		}
	}()
	w := o.Stdout
	var err error
	fmt.Fprintf(w, "plan %s (%s): %d cells; data %s; output %s; %s\n",
		plan.Name, plan.Source, len(plan.Cells), o.DataRoot, o.Out, nets.CurrentEngine())
	t0 := time.Now()
	// The data pass: every set the pending cells need, decoded and checked
	// before anything is trained.
	if o.Data, err = OpenData(ctx, plan, o.Options); err != nil {
		return nil, err
	}
	if len(o.Data.Sets) > 0 {
		fmt.Fprintf(w, "data for the %s cells without a record (%.1f s):\n", shardName(o.Shard, o.Shards), time.Since(t0).Seconds())
		if err := o.Data.WriteTable(w); err != nil {
			return nil, err
		}
	}
	sum, err := Run(ctx, plan, o.Options)
	if err != nil {
		return sum, err
	}
	sum.writeText(w, time.Since(t0))
	if o.Unverified != nil {
		o.Unverified(sum.Unverified)
	}
	if len(sum.Records) == 0 {
		if err := sum.failed(); err != nil {
			return sum, err
		}
		return sum, fmt.Errorf("no records: nothing to tabulate")
	}
	if err := writeTables(plan, sum.Records, o); err != nil {
		return sum, err
	}
	return sum, sum.failed()
}

// shardName says whose cells a run takes: "plan's", or "shard 2/4's".
func shardName(sh, shards int) string {
	if shards <= 1 {
		return "plan's"
	}
	return fmt.Sprintf("shard %d/%d's", sh, shards)
}

// writeText says what the run did: counts and time, then each missing set
// with the command that fetches it and each failed cell with its error.
func (s *Summary) writeText(w io.Writer, took time.Duration) {
	others := ""
	if s.Others > 0 {
		others = fmt.Sprintf(", %d run by other workers", s.Others)
	}
	fmt.Fprintf(w, "%d cells run, %d already recorded%s, %d failed, %.1f minutes\n", s.Done, s.Skipped, others, len(s.Failed), took.Minutes())
	for _, m := range s.Missing {
		fmt.Fprintf(w, "missing data %s: %d cells skipped; get it with: %s\n", m.Name, m.Cells, m.Fetch)
	}
	for _, f := range s.Failed {
		fmt.Fprintf(w, "failed %s: %v\n", f.Key, f.Err)
	}
}

// failed is the error of a run whose cells failed, nil when none did.
func (s *Summary) failed() error {
	if len(s.Failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d cells failed (listed above); the others ran", len(s.Failed))
}

// writeTables writes the report of recs under Out and their text table to
// Stdout.
func writeTables(plan *experiments.Plan, recs []*results.Record, o ReproduceOptions) error {
	opts := results.ReportOptions{Log: o.Log, Table: results.TableOptions{CI: plan.File.Bootstrap > 0,
		ReferenceNetwork: o.ReferenceNetwork, Methods: plan.File.Methods, OODs: plan.File.OOD}}
	if err := results.WriteReport(o.Out, recs, opts); err != nil {
		return err
	}
	table, err := results.BuildTable(recs, opts.Table)
	if err != nil {
		return err
	}
	if err := table.Write(o.Stdout, results.Text); err != nil {
		return err
	}
	fmt.Fprintf(o.Stdout, "tables: %s; plots: %s\n", filepath.Join(o.Out, "tables"), filepath.Join(o.Out, "plots"))
	return nil
}
