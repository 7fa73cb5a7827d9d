package results

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ExportScores writes a record's scores as .npz, .csv and .json; both read
// back equal to the stored scores.
func TestExportScores(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := records(paperLayout[2])[0]
	id, ood := []float64{-0.01, -0.25, -1e-9}, []float64{-1.5, -0.75}
	if err := s.PutScores(r.Key, id, ood); err != nil {
		t.Fatal(err)
	}
	files, err := ExportScores(s, r, filepath.Join(dir, "export"))
	if err != nil || len(files) != 3 {
		t.Fatalf("ExportScores: %v, %v", files, err)
	}
	npz, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	arrays, err := ReadNPZ(npz)
	if err != nil || len(arrays) != 2 {
		t.Fatalf("ReadNPZ: %v, %v", arrays, err)
	}
	f, err := os.Open(files[1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cid, cood, err := ReadScoresCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range [][2][]float64{{arrays["id"], arrays["ood"]}, {cid, cood}} {
		if !equalBits(got[0], id) || !equalBits(got[1], ood) {
			t.Errorf("read back %v, %v; want %v, %v", got[0], got[1], id, ood)
		}
	}
	side, _ := os.ReadFile(files[2])
	if !strings.Contains(string(side), `"key": "`+r.Key+`"`) || !strings.Contains(string(side), `"auroc": 0.9981`) {
		t.Errorf("side file:\n%s", side)
	}
	for _, bad := range []string{"set,score\nid,x\n", "set,value\n", "set,score\nboth,1\n", "set,score\nid,NaN\n"} {
		if _, _, err := ReadScoresCSV(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadScoresCSV accepted %q", bad)
		}
	}
}

func equalBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}
