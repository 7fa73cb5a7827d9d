package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcdood/mcdood/internal/atomicfile"
)

// Store keeps one JSON file per finished cell under DIR/records/ and the
// cell's test scores under DIR/scores/:
//
//	DIR/records/<name>.json   one Record as indented JSON, "version": RecordVersion
//	DIR/scores/<name>.scores  the ID and OOD test scores, binary (below)
//
// where <name> is the cell's key mapped to a safe file name (FileName). A
// record's digest (Record.Digest, RecordDigest) covers its scores file and
// every other field of the record, so neither can be changed unseen.
//
// A scores file, format version 1, all integers little-endian:
//
//	offset  size       field
//	0       8          magic "MCDSCORE"
//	8       4          format version (uint32) = 1
//	12      4          key length K in bytes (uint32)
//	16      K          the cell key (UTF-8)
//	16+K    8          number of ID scores nID (uint64)
//	24+K    8          number of OOD scores nOOD (uint64)
//	32+K    8·nID      ID scores, IEEE 754 binary64
//	...     8·nOOD     OOD scores, IEEE 754 binary64
//	end−4   4          CRC-32 (Castagnoli) of every byte before it (uint32)
//
// Scores are kept as float64, not float32, so that metrics recomputed from
// the file equal the record's to the last bit (rounding to float32 would
// create ties); 10,000 + 10,000 scores take 160 kB. The key inside the file
// guards against renamed files.
//
// Every file is written atomically (internal/atomicfile), so a killed run
// leaves either no file or a whole one, never half a record: a run resumes by
// skipping the keys the store Has, and shards run on different machines merge
// by copying their files into one directory (Merge checks for conflicts).
//
// Reading is strict: a truncated or corrupt file, a record of another
// version, unknown fields or a key that does not match the file name are
// errors naming the file, never half-used data; ReadRecords also checks
// every record against its scores file. A Store may be used by several
// goroutines and processes at once as long as each writes its own keys
// (claims keep two runs off the same cell: Claimer).
type Store struct {
	dir string
}

// The sub-folders of a store.
const (
	recordsDir = "records"
	scoresDir  = "scores"
)

// File name extensions of the store.
const (
	recordExt = ".json"
	scoresExt = ".scores"
)

// OpenStore opens the store in dir. It creates nothing: the folders are
// made by the first write, so a run that writes no record leaves no empty
// records or scores folder.
func OpenStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("results: empty store directory")
	}
	return &Store{dir: dir}, nil
}

// ReadRecords reads every record of the results directory dir and checks
// each against its scores file (Checked), without creating anything: a
// directory without a records folder is an error, so that a mistyped path
// is not taken for an empty run. unverified lists the record files that
// could not be checked (version 1 records without a scores file), which
// are returned all the same; a record that does not match its scores is an
// error naming its file.
func ReadRecords(dir string) (recs []*Record, unverified []string, err error) {
	if fi, err := os.Stat(filepath.Join(dir, recordsDir)); err != nil || !fi.IsDir() {
		return nil, nil, fmt.Errorf("%s: not a results directory (no %s folder)", dir, recordsDir)
	}
	return (&Store{dir: dir}).Checked()
}

// Checked reads every record (All) and checks each against its scores
// file: a version 2 record by its digest (RecordDigest), a version 1 record
// by recomputing its metrics from its scores. Records written before the
// OOD-positive FPR@95 existed get it from their scores. unverified lists
// the record files that could not be checked (version 1 records without a
// scores file); every mismatch is reported (joined into one error naming
// each file).
func (s *Store) Checked() (recs []*Record, unverified []string, err error) {
	recs, err = s.All()
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	for _, r := range recs {
		ok, err := s.verify(r)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !ok:
			path, _ := s.RecordPath(r.Key)
			unverified = append(unverified, path)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return recs, unverified, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// RecordPath is the file that holds (or would hold) the record of key.
func (s *Store) RecordPath(key string) (string, error) {
	name, err := FileName(key)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, recordsDir, name+recordExt), nil
}

// ScoresPath is the file that holds (or would hold) the scores of key.
func (s *Store) ScoresPath(key string) (string, error) {
	name, err := FileName(key)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, scoresDir, name+scoresExt), nil
}

// Has reports whether a record file for key exists. It does not read it: a
// corrupt record is reported by Get and All, not silently recomputed.
func (s *Store) Has(key string) bool {
	return isFile(s.RecordPath(key))
}

// HasScores reports whether a scores file for key exists.
func (s *Store) HasScores(key string) bool {
	return isFile(s.ScoresPath(key))
}

func isFile(path string, err error) bool {
	if err != nil {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// Put writes r atomically as the record of r.Key, replacing any record of
// that key, after setting r.Version to RecordVersion and r.Digest to the
// digest that binds it to the key's scores file (RecordDigest), which must
// be written first (PutScores). It checks that the record names its cell
// (key, ID set, network, OOD set, method, setting).
func (s *Store) Put(r *Record) error {
	if r == nil {
		return errors.New("results: Put of a nil record")
	}
	path, err := s.RecordPath(r.Key)
	if err != nil {
		return err
	}
	r.Version = RecordVersion
	if err := r.check(); err != nil {
		return fmt.Errorf("results: record %s: %w", r.Key, err)
	}
	spath, err := s.ScoresPath(r.Key)
	if err != nil {
		return err
	}
	scores, err := os.ReadFile(spath)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("results: record %s: no scores file %s (a record is bound to its scores: PutScores first)", r.Key, spath)
	}
	if err != nil {
		return fmt.Errorf("results: record %s: %w", r.Key, err)
	}
	if key, _, _, err := decodeScores(scores); err != nil {
		return fmt.Errorf("results: record %s: %s: %w", r.Key, spath, err)
	} else if key != r.Key {
		return fmt.Errorf("results: record %s: %s holds the scores of key %q", r.Key, spath, key)
	}
	if r.Digest, err = digestOf(r, scores); err != nil {
		return fmt.Errorf("results: record %s: %w", r.Key, err)
	}
	data, err := encodeRecord(r)
	if err != nil {
		return fmt.Errorf("results: record %s: %w", r.Key, err)
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

// encodeRecord is the file content of a record: indented JSON and a newline.
func encodeRecord(r *Record) ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// check reports what a record lacks to be filed and shown in tables.
func (r *Record) check() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"key", r.Key}, {"id", r.ID}, {"network", r.Network}, {"ood", r.OOD},
		{"method", r.Method}, {"setting", r.Setting},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("empty %s", strings.Join(missing, ", "))
	}
	return nil
}

// Get reads the record of key. A missing record is an error wrapping
// fs.ErrNotExist.
func (s *Store) Get(key string) (*Record, error) {
	path, err := s.RecordPath(key)
	if err != nil {
		return nil, err
	}
	r, _, err := readRecordFile(path)
	if err != nil {
		return nil, err
	}
	if r.Key != key {
		return nil, fmt.Errorf("%s: holds the record of key %q, want %q", path, r.Key, key)
	}
	return r, nil
}

// readRecordFile reads and checks one record file; it also returns the raw
// bytes. The key in the file must map to the file's name.
func readRecordFile(path string) (*Record, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := decodeRecord(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if name, err := FileName(r.Key); err != nil || name+recordExt != filepath.Base(path) {
		return nil, nil, fmt.Errorf("%s: holds the record of key %q, which belongs in %s%s (was the file renamed?)",
			path, r.Key, name, recordExt)
	}
	return r, data, nil
}

// decodeRecord parses a record file strictly: one JSON object (nothing
// after it) of version RecordVersion, or an older version this code still
// reads, with no unknown fields; a version 2 record has a well-formed
// digest, a version 1 record none.
func decodeRecord(data []byte) (*Record, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("truncated or corrupt record (want one JSON object): %w", err)
	}
	switch {
	case head.Version == nil:
		return nil, fmt.Errorf("no record version (want \"version\": %d)", RecordVersion)
	case *head.Version < oldestRecordVersion || *head.Version > RecordVersion:
		return nil, fmt.Errorf("record version %d, want %d to %d (written by another mcdood version)", *head.Version, oldestRecordVersion, RecordVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	r := new(Record)
	if err := dec.Decode(r); err != nil {
		return nil, fmt.Errorf("corrupt record: %w", err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("incomplete record: %w", err)
	}
	switch {
	case r.Version >= 2 && r.Digest == "":
		return nil, fmt.Errorf("record version %d without a digest (want \"digest\": \"%s<64 hexadecimal digits>\")", r.Version, digestPrefix)
	case r.Version >= 2 && !digestSyntax.MatchString(r.Digest):
		return nil, fmt.Errorf("digest %q, want %s and 64 lower-case hexadecimal digits", r.Digest, digestPrefix)
	case r.Version < 2 && r.Digest != "":
		return nil, fmt.Errorf("a digest in a version %d record (digests came with version 2)", r.Version)
	}
	return r, nil
}

// Keys returns the keys of the stored records, sorted. It reads file names
// only. A store without a records folder has none.
func (s *Store) Keys() ([]string, error) {
	names, err := listDir(filepath.Join(s.dir, recordsDir), recordExt)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	keys := make([]string, 0, len(names))
	errs := []error{err}
	for _, n := range names {
		k, err := KeyOf(strings.TrimSuffix(n, recordExt))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(s.dir, recordsDir, n), err))
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, errors.Join(errs...)
}

// All reads every record, sorted by key. Every unreadable file is reported
// (joined into one error naming each file); none is skipped silently.
func (s *Store) All() ([]*Record, error) {
	keys, err := s.Keys()
	var (
		out  = make([]*Record, 0, len(keys))
		errs = []error{err}
	)
	for _, k := range keys {
		r, err := s.Get(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// listDir returns the names of the files in dir ending in ext, sorted.
// Hidden files (the temporaries of an interrupted atomic write) are
// ignored; any other file, or a folder, is an error.
func listDir(dir, ext string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var (
		names []string
		errs  []error
	)
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, "."):
		case !e.Type().IsRegular() || !strings.HasSuffix(n, ext):
			errs = append(errs, fmt.Errorf("%s: unexpected %s in the store (want only NAME%s files)",
				filepath.Join(dir, n), fileKind(e.Type()), ext))
		default:
			names = append(names, n)
		}
	}
	return names, errors.Join(errs...)
}

func fileKind(m fs.FileMode) string {
	if m.IsDir() {
		return "folder"
	}
	return "file"
}
