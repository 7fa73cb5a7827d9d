package results

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteNPY writes numpy's format 1.0 with the data 64-byte aligned, as
// np.save; ReadNPY reads it back bit for bit, and float32 and big-endian
// arrays too.
func TestNPYRoundTrip(t *testing.T) {
	v := []float64{0.1, -2, math.Pi, 1e-300, 0}
	var b bytes.Buffer
	if err := WriteNPY(&b, v); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	hlen := int(data[8]) | int(data[9])<<8
	header := string(data[10 : 10+hlen])
	if string(data[:8]) != "\x93NUMPY\x01\x00" || (10+hlen)%64 != 0 || !strings.HasPrefix(header, "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }") || header[len(header)-1] != '\n' {
		t.Fatalf("header %q (length %d)", header, hlen)
	}
	got, err := ReadNPY(data)
	if err != nil || len(got) != len(v) {
		t.Fatalf("ReadNPY: %v, %v", got, err)
	}
	for i := range v {
		if math.Float64bits(got[i]) != math.Float64bits(v[i]) {
			t.Errorf("[%d] = %v, want %v", i, got[i], v[i])
		}
	}
	f4 := append([]byte("\x93NUMPY\x01\x00\x46\x00"), []byte("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }")...)
	f4 = append(f4, bytes.Repeat([]byte(" "), 70-len(f4)+10-1)...)
	f4 = append(f4, '\n', 0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0) // 1.0, -2.0 big-endian float32
	if got, err := ReadNPY(f4); err != nil || len(got) != 2 || got[0] != 1 || got[1] != -2 {
		t.Errorf("big-endian float32: %v, %v", got, err)
	}
	for _, bad := range [][]byte{[]byte("NUMPY"), append([]byte("\x93NUMPY\x01\x00\x10\x00"), []byte("{'descr': '<i8'}")...), data[:len(data)-3]} {
		if _, err := ReadNPY(bad); err == nil {
			t.Errorf("ReadNPY accepted %q", bad)
		}
	}
}

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
