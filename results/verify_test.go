package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/metrics"
)

// honest is a record whose numbers are those of its scores, as a run
// writes it, and the scores.
func honest(t *testing.T) (*Record, []float64, []float64) {
	t.Helper()
	id, ood := gaussians(1, 60, 1, 1), gaussians(2, 50, 0, 1)
	r := records(paperLayout[3])[0] // mcd
	var err error
	if r.Metrics, err = metrics.Compute(id, ood); err != nil {
		t.Fatal(err)
	}
	paper, err := metrics.ComputePaper(id, ood)
	if err != nil {
		t.Fatal(err)
	}
	r.Paper = &paper.Report
	v, err := metrics.FPR95OODPositive(id, ood)
	if err != nil {
		t.Fatal(err)
	}
	r.FPR95OODPositive = &v
	r.Counts.IDTest, r.Counts.OODTest = len(id), len(ood)
	return r, id, ood
}

// edit rewrites a file with one replacement, which must apply.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A record is bound to its scores by its digest: an edited number, other
// scores or a missing scores file make ReadRecords fail naming the record.
func TestRecordDigestBindsScores(t *testing.T) {
	r, id, ood := honest(t)
	auroc, _ := json.Marshal(r.Metrics.AUROC)
	cases := []struct {
		name   string
		change func(s *Store, record, scores string)
		want   string
	}{
		{"untouched", func(*Store, string, string) {}, ""},
		{"reformatted", func(_ *Store, record, _ string) { edit(t, record, "{\n  ", "{ ") }, ""},
		{"edited AUROC", func(_ *Store, record, _ string) {
			edit(t, record, `"auroc": `+string(auroc), `"auroc": 0.9999`)
		}, "does not match the record and its scores file"},
		{"edited accuracy", func(_ *Store, record, _ string) { edit(t, record, `"accuracy": 0`, `"accuracy": 1`) }, "digest sha256:"},
		{"other scores", func(s *Store, _, _ string) {
			if err := s.PutScores(r.Key, ood, id); err != nil {
				t.Fatal(err)
			}
		}, "does not match"},
		{"no scores", func(_ *Store, _, scores string) { os.Remove(scores) }, "no scores file"},
		{"digest removed, version 1", func(_ *Store, record, _ string) {
			b, _ := os.ReadFile(record)
			var raw map[string]any
			json.Unmarshal(b, &raw)
			delete(raw, "digest")
			raw["version"] = 1
			raw["metrics"].(map[string]any)["auroc"] = 0.9999
			b, _ = json.Marshal(raw)
			os.WriteFile(record, b, 0o644)
		}, "metrics.auroc is 0.9999, but its scores file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openTemp(t)
			rec := *r
			if err := s.PutScores(rec.Key, id, ood); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(&rec); err != nil {
				t.Fatal(err)
			}
			record, _ := s.RecordPath(r.Key)
			scores, _ := s.ScoresPath(r.Key)
			c.change(s, record, scores)
			got, unverified, err := ReadRecords(s.Dir())
			if c.want == "" {
				if err != nil || len(got) != 1 || len(unverified) != 0 || got[0].Metrics != r.Metrics {
					t.Fatalf("ReadRecords = %v, %v, %v", got, unverified, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), record+": ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ReadRecords: %v; want an error naming %s and saying %q", err, record, c.want)
			}
		})
	}
}

// Version 1 records (before digests) are checked by recomputing their
// metrics from their scores; without a scores file they are read and
// listed as unverified.
func TestVersion1Records(t *testing.T) {
	r, id, ood := honest(t)
	write := func(t *testing.T, s *Store, r *Record) string {
		t.Helper()
		v1 := *r
		v1.Version, v1.Digest = 1, ""
		b, err := encodeRecord(&v1)
		if err != nil {
			t.Fatal(err)
		}
		path, _ := s.RecordPath(r.Key)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("matching scores", func(t *testing.T) {
		s := openTemp(t)
		s.PutScores(r.Key, id, ood)
		old := *r
		old.FPR95OODPositive = nil // written before it existed: filled in
		write(t, s, &old)
		got, unverified, err := ReadRecords(s.Dir())
		if err != nil || len(got) != 1 || len(unverified) != 0 || got[0].FPR95OODPositive == nil || *got[0].FPR95OODPositive != *r.FPR95OODPositive {
			t.Fatalf("ReadRecords = %v, %v, %v", got, unverified, err)
		}
	})
	for _, c := range []struct {
		name   string
		change func(r *Record)
		want   string
	}{
		{"edited AUROC", func(r *Record) { r.Metrics.AUROC = 0.9999 }, "metrics.auroc is 0.9999, but its scores file"},
		{"edited paper FPR95", func(r *Record) { p := *r.Paper; p.FPR95 = 0.01; r.Paper = &p }, "paper_metrics.fpr95 is 0.01"},
		{"edited OOD-positive FPR95", func(r *Record) { v := 0.5; r.FPR95OODPositive = &v }, "fpr95_ood_positive is 0.5"},
		{"edited count", func(r *Record) { r.Counts.OODTest = 9000 }, "counts.ood_test is 9000, but its scores file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openTemp(t)
			s.PutScores(r.Key, id, ood)
			bad := *r
			c.change(&bad)
			path := write(t, s, &bad)
			if _, _, err := ReadRecords(s.Dir()); err == nil || !strings.Contains(err.Error(), path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ReadRecords: %v; want an error naming %s and saying %q", err, path, c.want)
			}
		})
	}
	t.Run("no scores", func(t *testing.T) {
		s := openTemp(t)
		path := write(t, s, r)
		got, unverified, err := ReadRecords(s.Dir())
		if err != nil || len(got) != 1 || len(unverified) != 1 || unverified[0] != path {
			t.Fatalf("ReadRecords = %v, %v, %v; want the record, listed as unverified", got, unverified, err)
		}
	})
}

// The digest is of the record as it reads back: a string that JSON
// normalises (invalid UTF-8) does not break it.
func TestRecordDigestAfterNormalisation(t *testing.T) {
	s := openTemp(t)
	r := records(paperLayout[0])[0]
	r.Warnings = []string{"bad \xff byte"}
	put(t, s, r)
	if _, _, err := ReadRecords(s.Dir()); err != nil {
		t.Fatal(err)
	}
	// A record whose scores file holds another key is refused by Put.
	other := records(paperLayout[1])[0]
	path, _ := s.ScoresPath(other.Key)
	src, _ := s.ScoresPath(r.Key)
	b, _ := os.ReadFile(src)
	os.WriteFile(path, b, 0o644)
	if err := s.Put(other); err == nil || !strings.Contains(err.Error(), "holds the scores of key") {
		t.Errorf("Put with another key's scores: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "records", other.Key+".json")); err == nil {
		t.Error("the refused record was written")
	}
}
