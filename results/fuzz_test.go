package results

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/metrics"
)

// Fuzz targets for the files a user hands the harness: records, scores
// files (FuzzDecodeScores, in store_test.go), and the exported .npy, .npz
// and .csv scores.
//
//	go test -run '^$' -fuzz '^FuzzDecodeRecord$' -fuzztime 10s -parallel 1 ./results/
//	go test -run '^$' -fuzz '^FuzzDecodeScores$' -fuzztime 10s -parallel 1 ./results/
//	go test -run '^$' -fuzz '^FuzzNPY$'          -fuzztime 10s -parallel 1 ./results/
//	go test -run '^$' -fuzz '^FuzzNPZ$'          -fuzztime 10s -parallel 1 ./results/
//	go test -run '^$' -fuzz '^FuzzScoresCSV$'    -fuzztime 10s -parallel 1 ./results/

// FuzzDecodeRecord: no input panics; a record that decodes has a digest
// input (its compact JSON) that reads back to the same bytes, and encodes
// to a file that decodes to the same record.
func FuzzDecodeRecord(f *testing.F) {
	full := cell{id: "cifar10", network: "densenet-bc-100", ood: "isun", method: "mcd", seed: 3, accuracy: 0.95,
		m: [5]float64{0.1, 0.05, 0.97, 0.96, 0.98}}.record()
	full.Paper = &metrics.Report{FPR95: 0.11, AUROC: 0.96}
	v := 0.2
	full.FPR95OODPositive = &v
	full.CI = &metrics.Intervals{AUROC: metrics.Interval{Low: 0.95, High: 0.98}}
	full.Notes = []Note{{"epoch", "4"}}
	full.Warnings = []string{"subsampled", "bad \xff byte"}
	full.Digest = "sha256:" + strings.Repeat("ab", 32)
	v2, _ := encodeRecord(full)
	f.Add(v2)
	old := *full
	old.Version, old.Digest = 1, ""
	v1, _ := encodeRecord(&old)
	f.Add(v1)
	f.Add([]byte(`{"version": 1, "key": "k", "id": "a", "network": "n", "ood": "o", "method": "m", "setting": "s", "started": "2025-01-02T03:04:05+23:59"}`))
	f.Add([]byte(`{"version": 2}`))
	f.Add([]byte(`{"version": 1, "key": "k", "id": "a", "network": "n", "ood": "o", "method": "m", "setting": "s", "config": {}, "notes": [], "metrics": {"auroc": -0}}`))
	f.Add([]byte(`{"version": 1} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			return
		}
		c := *r
		c.Digest = ""
		js, err := json.Marshal(&c)
		if err != nil {
			return // the digest cannot be computed: verify reports it by file
		}
		var back Record
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatalf("the digest's JSON does not read back: %v\n%s", err, js)
		}
		if again, _ := json.Marshal(&back); !bytes.Equal(again, js) {
			t.Fatalf("the digest's JSON changes on a round trip:\n%s\n%s", js, again)
		}
		enc, err := encodeRecord(r)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		r2, err := decodeRecord(enc)
		if err != nil {
			t.Fatalf("an encoded record does not decode: %v\n%s", err, enc)
		}
		d1, err1 := RecordDigest(r, []byte("scores"))
		d2, err2 := RecordDigest(r2, []byte("scores"))
		if err1 != nil || err2 != nil || d1 != d2 {
			t.Fatalf("digest %s, %v; after a round trip %s, %v", d1, err1, d2, err2)
		}
	})
}

// sameBits reports whether two arrays are equal bit for bit.
func sameBits(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

// FuzzNPY: no input panics or asks for more memory than it holds; what
// reads writes back and reads again the same.
func FuzzNPY(f *testing.F) {
	var b bytes.Buffer
	WriteNPY(&b, []float64{0.5, -1, math.NaN()})
	f.Add(b.Bytes())
	f.Add([]byte("\x93NUMPY\x01\x00\x46\x00{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }           \n\x3f\x80\x00\x00\xc0\x00\x00\x00"))
	f.Add([]byte("\x93NUMPY\x02\x00\x3a\x00\x00\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693953,), }\n\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x93NUMPY\x03\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ReadNPY(data)
		if err != nil {
			return
		}
		if 4*len(v) > len(data) {
			t.Fatalf("%d values from %d bytes", len(v), len(data))
		}
		var out bytes.Buffer
		if err := WriteNPY(&out, v); err != nil {
			t.Fatal(err)
		}
		again, err := ReadNPY(out.Bytes())
		if err != nil || !sameBits(again, v) {
			t.Fatalf("round trip: %v, %v; want %v", again, err, v)
		}
	})
}

// FuzzNPZ: no input panics; what reads writes back and reads again the
// same.
func FuzzNPZ(f *testing.F) {
	var b bytes.Buffer
	WriteNPZ(&b, map[string][]float64{"id": {1, 2}, "ood": {0}}, []string{"id", "ood"})
	f.Add(b.Bytes())
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		arrays, err := ReadNPZ(data)
		if err != nil {
			return
		}
		names := make([]string, 0, len(arrays))
		for n := range arrays {
			names = append(names, n)
		}
		slices.Sort(names)
		var out bytes.Buffer
		if err := WriteNPZ(&out, arrays, names); err != nil {
			t.Fatal(err)
		}
		again, err := ReadNPZ(out.Bytes())
		if err != nil || len(again) != len(arrays) {
			t.Fatalf("round trip: %d arrays, %v; want %d", len(again), err, len(arrays))
		}
		for n, v := range arrays {
			if !sameBits(again[n], v) {
				t.Fatalf("array %q: %v, want %v", n, again[n], v)
			}
		}
	})
}

// FuzzScoresCSV: no input panics; an error names the line or the missing
// set; what reads has both sets, finite, and writes back the same.
func FuzzScoresCSV(f *testing.F) {
	var b bytes.Buffer
	WriteScoresCSV(&b, []float64{0.5, -0.0, 1e-300}, []float64{-2})
	f.Add(b.String())
	for _, s := range []string{"set,score\n", "set,score\nid,1\n", "set,score\nid,NaN\nood,1\n", "set,score\n\"id\",1\nood,\"2\"\n", "a,b\n", "set,score\nid,1,2\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, ood, err := ReadScoresCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		if len(id) == 0 || len(ood) == 0 {
			t.Fatalf("%d ID and %d OOD scores read without an error", len(id), len(ood))
		}
		for _, v := range append(slices.Clone(id), ood...) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite score %v", v)
			}
		}
		var out bytes.Buffer
		if err := WriteScoresCSV(&out, id, ood); err != nil {
			t.Fatal(err)
		}
		id2, ood2, err := ReadScoresCSV(&out)
		if err != nil || !sameBits(id2, id) || !sameBits(ood2, ood) {
			t.Fatalf("round trip: %v %v, %v", id2, ood2, err)
		}
	})
}
