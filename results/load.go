package results

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LoadRecords reads the records of the results directory dir, checked
// against their scores (ReadRecords), only those of plan when plan is not
// empty. unverified lists the record files that could not be checked, also
// when err is not nil (UnverifiedNote says so); no records is an error.
func LoadRecords(dir, plan string) (recs []*Record, unverified []string, err error) {
	all, unverified, err := ReadRecords(dir)
	if err != nil {
		return nil, nil, err
	}
	if len(all) == 0 {
		return nil, unverified, fmt.Errorf("%s: no records", dir)
	}
	if plan == "" {
		return all, unverified, nil
	}
	var plans []string
	for _, r := range all {
		if r.Plan == plan {
			recs = append(recs, r)
		}
		if !slices.Contains(plans, r.Plan) {
			plans = append(plans, r.Plan)
		}
	}
	if len(recs) == 0 {
		slices.Sort(plans)
		return nil, unverified, fmt.Errorf("%s: no records of plan %q (plans there: %s)", dir, plan, strings.Join(plans, ", "))
	}
	return recs, unverified, nil
}

// UnverifiedNote says which record files could not be checked against
// their scores, naming the first three; "" when there are none.
func UnverifiedNote(files []string) string {
	if len(files) == 0 {
		return ""
	}
	const shown = 3
	list := strings.Join(files[:min(len(files), shown)], ", ")
	if len(files) > shown {
		list += fmt.Sprintf(" and %d more", len(files)-shown)
	}
	return fmt.Sprintf("note: %d record(s) predate record digests and have no scores file, so their numbers are not checked: %s", len(files), list)
}

// CheckOutFolder checks that the folder of a file to be written exists
// (and is a folder), so that a mistyped path is an error, not a new folder
// tree.
func CheckOutFolder(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("folder %s does not exist (create it first)", dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a folder", dir)
	}
	return nil
}

// RecordFilter chooses records by key or by fields; an empty field (a
// negative Seed) matches every record.
type RecordFilter struct {
	Key, ID, Network, OOD, Method, Setting string
	Seed                                   int64
}

// Fields reports whether a field other than Key is set.
func (f RecordFilter) Fields() bool {
	return f.ID != "" || f.Network != "" || f.OOD != "" || f.Method != "" || f.Setting != "" || f.Seed >= 0
}

// Match reports whether f chooses r.
func (f RecordFilter) Match(r *Record) bool {
	match := func(want, got string) bool { return want == "" || want == got }
	return match(f.Key, r.Key) && match(f.ID, r.ID) && match(f.Network, r.Network) && match(f.OOD, r.OOD) &&
		match(f.Method, r.Method) && match(f.Setting, r.Setting) && (f.Seed < 0 || uint64(f.Seed) == r.Seed)
}
