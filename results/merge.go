package results

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcdood/mcdood/internal/atomicfile"
)

// Merge copies the records and scores of the results directories srcs (the
// shards of a plan run on several machines) into dst, creating dst's store
// when needed. Every source file is read and checked first; a record whose
// key is already in dst, or in an earlier source, with different content is
// a conflict, and so are two different scores files of one key. Identical
// copies are skipped, so merging a shard twice changes nothing. Nothing is
// copied unless every file is readable and free of conflicts; then scores
// are copied before records (atomically, one file at a time), so that a
// record present in dst always has its scores there too.
func Merge(dst string, srcs ...string) error {
	out, err := OpenStore(dst)
	if err != nil {
		return err
	}
	m := merger{
		records: map[string]mergeFile{},
		scores:  map[string]mergeFile{},
	}
	m.add(out.dir, false)
	for _, src := range srcs {
		if fi, err := os.Stat(filepath.Join(src, recordsDir)); err != nil || !fi.IsDir() {
			m.errs = append(m.errs, fmt.Errorf("%s: not a results directory (no %s folder)", src, recordsDir))
			continue
		}
		m.add(src, true)
	}
	if len(m.errs) > 0 {
		return fmt.Errorf("results: merge into %s: nothing copied:\n%w", dst, errors.Join(m.errs...))
	}
	for _, set := range []struct {
		sub, ext string
		files    []mergeFile
	}{{scoresDir, scoresExt, m.scoreCopies}, {recordsDir, recordExt, m.recordCopies}} {
		for _, f := range set.files {
			to := filepath.Join(out.dir, set.sub, filepath.Base(f.path))
			if err := atomicfile.WriteFile(to, f.raw, 0o644); err != nil {
				return fmt.Errorf("results: merge: copying %s to %s: %w", f.path, to, err)
			}
		}
	}
	return nil
}

// mergeFile is one checked file: where it is, its bytes, and what two copies
// must agree on (the re-encoded record, or the raw scores file).
type mergeFile struct {
	path      string
	raw       []byte
	canonical []byte
}

type merger struct {
	records, scores           map[string]mergeFile // by key: the file that wins
	recordCopies, scoreCopies []mergeFile          // what to copy into dst
	errs                      []error
}

// add reads the store in dir; copyNew says whether its new files go to dst.
func (m *merger) add(dir string, copyNew bool) {
	recs, err := listDir(filepath.Join(dir, recordsDir), recordExt)
	if err != nil && (copyNew || !errors.Is(err, os.ErrNotExist)) {
		// A new destination has no records folder yet.
		m.errs = append(m.errs, err)
	}
	for _, name := range recs {
		path := filepath.Join(dir, recordsDir, name)
		r, raw, err := readRecordFile(path)
		if err != nil {
			m.errs = append(m.errs, err)
			continue
		}
		canonical, err := encodeRecord(r)
		if err != nil {
			m.errs = append(m.errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		m.take(m.records, &m.recordCopies, r.Key, mergeFile{path, raw, canonical}, copyNew, "record")
	}
	scores, err := listDir(filepath.Join(dir, scoresDir), scoresExt)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		m.errs = append(m.errs, err)
	}
	for _, name := range scores {
		path := filepath.Join(dir, scoresDir, name)
		raw, err := os.ReadFile(path)
		if err != nil {
			m.errs = append(m.errs, err)
			continue
		}
		key, _, _, err := decodeScores(raw)
		if err != nil {
			m.errs = append(m.errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		if want, _ := FileName(key); want+scoresExt != name {
			m.errs = append(m.errs, fmt.Errorf("%s: holds the scores of key %q, which belong in %s%s", path, key, want, scoresExt))
			continue
		}
		m.take(m.scores, &m.scoreCopies, key, mergeFile{path, raw, raw}, copyNew, "scores")
	}
}

func (m *merger) take(seen map[string]mergeFile, copies *[]mergeFile, key string, f mergeFile, copyNew bool, what string) {
	if prev, ok := seen[key]; ok {
		if !bytes.Equal(prev.canonical, f.canonical) {
			m.errs = append(m.errs, fmt.Errorf("conflict: %s and %s hold different %s for key %q", prev.path, f.path, what, key))
		}
		return
	}
	seen[key] = f
	if copyNew {
		*copies = append(*copies, f)
	}
}
