package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shard writes records (and one score file per record) into a new results
// directory.
func shard(t *testing.T, recs ...*Record) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shard")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		put(t, s, r)
	}
	return dir
}

func TestMergeShards(t *testing.T) {
	recs := records(paperLayout...)
	a, b := shard(t, recs[:3]...), shard(t, recs[2:]...) // recs[2] is in both, identical
	dst := filepath.Join(t.TempDir(), "merged")
	if err := Merge(dst, a, b); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(dst)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.All()
	if err != nil || len(all) != len(recs) {
		t.Fatalf("merged store: %d records, %v; want %d", len(all), err, len(recs))
	}
	for _, r := range recs {
		if _, _, err := s.Scores(r.Key); err != nil {
			t.Errorf("scores of %s: %v", r.Key, err)
		}
	}
	// Merging again changes nothing and is no conflict.
	if err := Merge(dst, a, b, dst); err != nil {
		t.Errorf("second merge: %v", err)
	}
}

func TestMergeRefusesConflicts(t *testing.T) {
	r1 := cell{id: "cifar10", network: "n", ood: "isun", method: "msp", seed: 1, accuracy: 0.9}.record()
	r2 := cell{id: "cifar10", network: "n", ood: "isun", method: "msp", seed: 1, accuracy: 0.8}.record() // same key, other content
	other := cell{id: "cifar10", network: "n", ood: "lsun-crop", method: "msp", seed: 1}.record()
	a, b := shard(t, r1), shard(t, r2, other)
	dst := filepath.Join(t.TempDir(), "merged")
	err := Merge(dst, a, b)
	if err == nil || !strings.Contains(err.Error(), "conflict") || !strings.Contains(err.Error(), r1.Key) ||
		!strings.Contains(err.Error(), "nothing copied") {
		t.Fatalf("Merge: %v, want a conflict on %s", err, r1.Key)
	}
	// Nothing was copied, not even the cell without a conflict.
	if entries, _ := os.ReadDir(filepath.Join(dst, "records")); len(entries) != 0 {
		t.Errorf("records copied despite the conflict: %v", entries)
	}
}

func TestMergeRefusesBadSources(t *testing.T) {
	good := shard(t, cell{id: "cifar10", network: "n", ood: "isun", method: "msp", seed: 1}.record())
	bad := shard(t)
	os.MkdirAll(filepath.Join(bad, "records"), 0o755)
	corrupt := filepath.Join(bad, "records", "x.json")
	if err := os.WriteFile(corrupt, []byte(`{"version": 1`), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "merged")
	if err := Merge(dst, good, bad); err == nil || !strings.Contains(err.Error(), corrupt) {
		t.Errorf("Merge with a corrupt record: %v, want it to name %s", err, corrupt)
	}
	if err := Merge(dst, filepath.Join(t.TempDir(), "nowhere")); err == nil || !strings.Contains(err.Error(), "not a results directory") {
		t.Errorf("Merge from a missing folder: %v", err)
	}
}
