package results

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestFileNameRoundTrip(t *testing.T) {
	cases := []struct{ key, name string }{
		{"cifar10_densenet-bc-100_isun_mcd_transductive_s1_1a2b3c4d", "cifar10_densenet-bc-100_isun_mcd_transductive_s1_1a2b3c4d"},
		{"plan/cell=3", "plan%2Fcell%3D3"},
		{"ODIN", "%4F%44%49%4E"}, // capitals are escaped: no collisions on case-insensitive file systems
		{".hidden", "%2Ehidden"}, // a leading dot would hide the file
		{"a.b", "a.b"},
		{"100%", "100%25"},
		{"é", "%C3%A9"},
		{"a b", "a%20b"},
	}
	for _, c := range cases {
		name, err := FileName(c.key)
		if err != nil || name != c.name {
			t.Errorf("FileName(%q) = %q, %v, want %q", c.key, name, err, c.name)
			continue
		}
		back, err := KeyOf(name)
		if err != nil || back != c.key {
			t.Errorf("KeyOf(%q) = %q, %v, want %q", name, back, err, c.key)
		}
	}
}

func TestFileNameErrors(t *testing.T) {
	if _, err := FileName(""); err == nil {
		t.Error("empty key accepted")
	}
	if _, err := FileName(strings.Repeat("/", 100)); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("long key: %v", err)
	}
	for _, name := range []string{"", "%2f", "%2", "%41%", "%61", "A", ".x", "a/b", "%2E%2E"[3:] + "%"} {
		if k, err := KeyOf(name); err == nil {
			t.Errorf("KeyOf(%q) = %q, want an error", name, k)
		}
	}
}

// FuzzFileName: every key maps to a name of safe bytes that maps back.
func FuzzFileName(f *testing.F) {
	for _, s := range []string{"a", "A/b=c", ".x", "%", "\x00", "cifar10_x_s1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		name, err := FileName(key)
		if err != nil {
			if key != "" && len(key) <= maxFileName/3 {
				t.Fatalf("FileName(%q): %v", key, err)
			}
			return
		}
		if strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\:*?"<>| `) {
			t.Fatalf("unsafe name %q for %q", name, key)
		}
		back, err := KeyOf(name)
		if err != nil || back != key {
			t.Fatalf("KeyOf(FileName(%q)) = %q, %v", key, back, err)
		}
	})
}

// openTemp is a new store with its folders made (as its first write would).
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{recordsDir, scoresDir} {
		if err := os.MkdirAll(filepath.Join(s.Dir(), sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// OpenStore creates nothing: a store that is never written leaves no
// folder, and reads as empty.
func TestOpenStoreCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Has("k") || s.HasScores("k") {
		t.Error("Has in an empty store")
	}
	if all, err := s.All(); err != nil || len(all) != 0 {
		t.Errorf("All = %v, %v", all, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenStore made %s: %v", dir, err)
	}
	put(t, s, records(paperLayout[0])[0])
	for _, sub := range []string{recordsDir, scoresDir} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			t.Errorf("after Put: %s: %v", sub, err)
		}
	}
}

func TestStorePutGetAll(t *testing.T) {
	s := openTemp(t)
	recs := records(paperLayout...)
	recs[0].Key = "needs/escaping=1" // keys may hold any byte
	for _, r := range recs {
		r.Version = 0 // Put sets it
		if s.Has(r.Key) {
			t.Fatalf("Has(%q) before Put", r.Key)
		}
		put(t, s, r)
		if r.Version != RecordVersion {
			t.Errorf("Put left version %d", r.Version)
		}
		if !s.Has(r.Key) {
			t.Errorf("Has(%q) after Put", r.Key)
		}
	}
	got, err := s.Get(recs[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs[0]) {
		t.Errorf("Get = %+v\nwant %+v", got, recs[0])
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	var keys, want []string
	for _, r := range all {
		keys = append(keys, r.Key)
	}
	for _, r := range recs {
		want = append(want, r.Key)
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("All keys %q, want %q (sorted)", keys, want)
	}
	if _, err := s.Get("absent"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get(absent): %v, want fs.ErrNotExist", err)
	}
	// A leftover temporary file of a killed write is not a record.
	if err := os.WriteFile(filepath.Join(s.Dir(), "records", ".x.json.tmp-123"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if all, err := s.All(); err != nil || len(all) != len(recs) {
		t.Errorf("All with a temporary file: %d records, %v", len(all), err)
	}
}

func TestStorePutRejects(t *testing.T) {
	s := openTemp(t)
	r := cell{id: "cifar10", network: "n", ood: "isun", method: "msp", seed: 1}.record()
	if err := s.Put(r); err == nil || !strings.Contains(err.Error(), "no scores file") {
		t.Errorf("Put without scores: %v", err)
	}
	if err := s.PutScores(r.Key, []float64{1}, []float64{2}); err != nil {
		t.Fatal(err)
	}
	r.Network = ""
	if err := s.Put(r); err == nil || !strings.Contains(err.Error(), "empty network") {
		t.Errorf("Put without network: %v", err)
	}
	r.Network, r.Key = "n", ""
	if err := s.Put(r); err == nil {
		t.Error("Put without key accepted")
	}
	if err := s.Put(nil); err == nil {
		t.Error("Put(nil) accepted")
	}
}

// TestStoreCorruptRecords: every way a record file can be bad is an error
// naming the file and the fault, from Get and from All (never skipped).
func TestStoreCorruptRecords(t *testing.T) {
	good := cell{id: "cifar10", network: "densenet-bc-100", ood: "isun", method: "msp", seed: 1, accuracy: 0.9}.record()
	digest := "sha256:" + strings.Repeat("0a", 32)
	good.Digest = digest
	data, err := encodeRecord(good)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	cases := []struct {
		name, content, want string
	}{
		{"truncated", text[:len(text)/2], "truncated or corrupt record"},
		{"empty", "", "truncated or corrupt record"},
		{"not JSON", "hello", "truncated or corrupt record"},
		{"newer version", strings.Replace(text, `"version": 2`, `"version": 3`, 1), "record version 3, want 1 to 2"},
		{"no version", strings.Replace(text, `"version": 2,`, ``, 1), "no record version"},
		{"no digest", strings.Replace(text, `"digest"`, `"x"`, 1)[:strings.Index(text, `  "digest"`)-2] + "\n}\n", "record version 2 without a digest"},
		{"bad digest", strings.Replace(text, digest, "sha256:1234", 1), `digest "sha256:1234", want sha256: and 64 lower-case`},
		{"version 1 with a digest", strings.Replace(text, `"version": 2`, `"version": 1`, 1), "a digest in a version 1 record"},
		{"unknown field", strings.Replace(text, `"plan"`, `"plam"`, 1), `unknown field "plam"`},
		{"trailing data", text + "{}", "truncated or corrupt record"},
		{"wrong type", strings.Replace(text, `"seed": 1`, `"seed": "one"`, 1), "corrupt record"},
		{"no method", strings.Replace(text, `"method": "msp"`, `"method": ""`, 1), "incomplete record: empty method"},
		{"other key", strings.Replace(text, good.Key, "another", 1), `holds the record of key "another"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openTemp(t)
			path, _ := s.RecordPath(good.Key)
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := s.Get(good.Key)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Get: %v, want it to name %s and say %q", err, path, c.want)
			}
			if !s.Has(good.Key) {
				t.Error("Has is false for a present (if corrupt) file")
			}
			all, err := s.All()
			if err == nil || all != nil || !strings.Contains(err.Error(), path) {
				t.Errorf("All: %d records, %v; want an error naming %s", len(all), err, path)
			}
		})
	}
}

func TestStoreUnexpectedFiles(t *testing.T) {
	s := openTemp(t)
	for _, name := range []string{"notes.txt", "%2f.json"} {
		if err := os.WriteFile(filepath.Join(s.Dir(), "records", name), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.All()
	if err == nil || !strings.Contains(err.Error(), "notes.txt: unexpected file") || !strings.Contains(err.Error(), "bad escape") {
		t.Errorf("All: %v", err)
	}
}

func TestScoresRoundTrip(t *testing.T) {
	s := openTemp(t)
	id := []float64{-0.25, 0, 1e-300, -1.9999999999999998, 3}
	ood := []float64{-2, -1.5}
	if s.HasScores("k/1") {
		t.Fatal("HasScores before PutScores")
	}
	if err := s.PutScores("k/1", id, ood); err != nil {
		t.Fatal(err)
	}
	if !s.HasScores("k/1") {
		t.Error("HasScores after PutScores")
	}
	gotID, gotOOD, err := s.Scores("k/1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotID, id) || !slices.Equal(gotOOD, ood) {
		t.Errorf("Scores = %v, %v; want %v, %v (bit for bit)", gotID, gotOOD, id, ood)
	}
	path, _ := s.ScoresPath("k/1")
	fi, err := os.Stat(path)
	// 8 magic + 4 version + 4 key length + 3 key + 16 counts + 8·7 values + 4 CRC.
	if err != nil || fi.Size() != 8+4+4+3+16+8*7+4 {
		t.Errorf("scores file size %v, %v", fi.Size(), err)
	}
	if _, _, err := s.Scores("absent"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Scores(absent): %v", err)
	}
}

func TestPutScoresRejects(t *testing.T) {
	s := openTemp(t)
	cases := []struct {
		name    string
		id, ood []float64
		want    string
	}{
		{"no ID", nil, []float64{1}, "no ID scores"},
		{"no OOD", []float64{1}, []float64{}, "no OOD scores"},
		{"NaN", []float64{1, math.NaN()}, []float64{1}, "ID score 1 (0-based) is NaN"},
		{"Inf", []float64{1}, []float64{math.Inf(1)}, "OOD score 0 (0-based) is +Inf"},
	}
	for _, c := range cases {
		if err := s.PutScores("k", c.id, c.ood); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if s.HasScores("k") {
		t.Error("a rejected PutScores left a file")
	}
}

// TestScoresCorrupt: a truncated, padded, flipped or foreign file is an
// error naming the file and the fault.
func TestScoresCorrupt(t *testing.T) {
	good := encodeScores("k", []float64{1, 2, 3}, []float64{0.5})
	flip := func(at int) []byte {
		b := slices.Clone(good)
		b[at] ^= 1
		return b
	}
	cases := []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty", nil, "not a scores file"},
		{"wrong magic", []byte("PK\x03\x04 a zip file"), "not a scores file"},
		{"header only", good[:20], "truncated scores file"},
		{"truncated values", good[:len(good)-10], "truncated or padded scores file"},
		{"padded", append(slices.Clone(good), 0), "truncated or padded scores file"},
		{"flipped value bit", flip(len(good) - 12), "CRC-32C"},
		{"flipped checksum", flip(len(good) - 1), "CRC-32C"},
		{"version", flip(8), "scores format version 0, want 1"},
		{"huge count", func() []byte { b := slices.Clone(good); b[16+1+7] = 0xff; return b }(), "corrupt scores header"},
		{"other key", encodeScores("j", []float64{1}, []float64{2}), `holds the scores of key "j", want "k"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openTemp(t)
			path, _ := s.ScoresPath("k")
			if err := os.WriteFile(path, c.content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := s.Scores("k")
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Scores: %v, want it to name %s and say %q", err, path, c.want)
			}
		})
	}
}

// FuzzDecodeScores: no input panics; whatever decodes re-encodes to itself.
func FuzzDecodeScores(f *testing.F) {
	f.Add(encodeScores("k", []float64{1, 2}, []float64{3}))
	f.Add([]byte("MCDSCORE"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, id, ood, err := decodeScores(data)
		if err != nil {
			return
		}
		if again := encodeScores(key, id, ood); string(again) != string(data) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func TestReadRecords(t *testing.T) {
	s := openTemp(t)
	r := records(paperLayout[0])[0]
	put(t, s, r)
	got, unverified, err := ReadRecords(s.Dir())
	if err != nil || len(got) != 1 || got[0].Key != r.Key || len(unverified) != 0 {
		t.Errorf("ReadRecords = %v, %v, %v", got, unverified, err)
	}
	missing := filepath.Join(t.TempDir(), "typo")
	if _, _, err := ReadRecords(missing); err == nil || !strings.Contains(err.Error(), "not a results directory") {
		t.Errorf("ReadRecords(missing): %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("ReadRecords created the directory")
	}
}
