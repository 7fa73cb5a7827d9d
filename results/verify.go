package results

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"

	"github.com/mcdood/mcdood/metrics"
)

// digestPrefix names the hash of Record.Digest.
const digestPrefix = "sha256:"

var digestSyntax = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// RecordDigest is the digest that binds r to its scores file, whose bytes
// are scores: "sha256:" and the hexadecimal SHA-256 of the scores file,
// byte for byte, followed by the record's compact JSON (encoding/json:
// fields in declaration order, maps by key) with Digest left out. So it
// covers every field of the record (the cell, the configuration, accuracy,
// all metrics, intervals, counts, notes, warnings, provenance, timings) and
// every score. It detects a record or a scores file changed after the run,
// not a forgery: anyone can recompute a SHA-256.
func RecordDigest(r *Record, scores []byte) (string, error) {
	c := *r
	c.Digest = ""
	js, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(scores)
	h.Write(js)
	return digestPrefix + hex.EncodeToString(h.Sum(nil)), nil
}

// digestOf is RecordDigest of r as it will read back from its file: the
// JSON round trip first, so that what encoding/json normalises (invalid
// UTF-8 in a string) hashes as the reader will hash it.
func digestOf(r *Record, scores []byte) (string, error) {
	c := *r
	c.Digest = ""
	js, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	var back Record
	if err := json.Unmarshal(js, &back); err != nil {
		return "", err
	}
	return RecordDigest(&back, scores)
}

// verify checks a record of the store against its scores file. A version 2
// record's digest must match (RecordDigest) and its scores file must be
// there. A version 1 record has no digest: when its scores file is there,
// its counts and its metrics (exact, paper mode when it has them, the
// OOD-positive FPR@95 when it has it) must equal those recomputed from the
// scores, to the last bit, and a missing OOD-positive FPR@95 is filled in;
// its accuracy and intervals cannot be checked. ok is false, with no error,
// for a version 1 record without a scores file: nothing can be checked.
// Errors name the record file, the field and what was expected.
func (s *Store) verify(r *Record) (ok bool, err error) {
	path, err := s.RecordPath(r.Key)
	if err != nil {
		return false, err
	}
	spath, err := s.ScoresPath(r.Key)
	if err != nil {
		return false, err
	}
	if r.Digest != "" {
		raw, err := os.ReadFile(spath)
		if errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("%s: no scores file %s (the record's digest binds it to its scores; copy both files)", path, spath)
		}
		if err != nil {
			return false, err
		}
		got, err := RecordDigest(r, raw)
		if err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
		if got != r.Digest {
			return false, fmt.Errorf("%s: digest %s does not match the record and its scores file %s, which give %s: one of them was changed after the run",
				path, r.Digest, spath, got)
		}
		if r.FPR95OODPositive == nil {
			if err := fillOODPositive(s, r); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	id, ood, err := s.Scores(r.Key)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	mismatch := func(field string, got, want any) error {
		return fmt.Errorf("%s: %s is %v, but its scores file %s gives %v: the record or its scores were changed after the run",
			path, field, got, spath, want)
	}
	if r.Counts.IDTest != len(id) {
		return false, mismatch("counts.id_test", r.Counts.IDTest, len(id))
	}
	if r.Counts.OODTest != len(ood) {
		return false, mismatch("counts.ood_test", r.Counts.OODTest, len(ood))
	}
	exact, err := metrics.Compute(id, ood)
	if err != nil {
		return false, fmt.Errorf("%s: %w", spath, err)
	}
	if err := sameReport("metrics", r.Metrics, exact, mismatch); err != nil {
		return false, err
	}
	if r.Paper != nil {
		paper, err := metrics.ComputePaper(id, ood)
		if err != nil {
			return false, fmt.Errorf("%s: %w", spath, err)
		}
		if err := sameReport("paper_metrics", *r.Paper, paper.Report, mismatch); err != nil {
			return false, err
		}
	}
	v, err := metrics.FPR95OODPositive(id, ood)
	if err != nil {
		return false, fmt.Errorf("%s: %w", spath, err)
	}
	if r.FPR95OODPositive == nil {
		// Written before it existed.
		r.FPR95OODPositive = &v
	} else if *r.FPR95OODPositive != v {
		return false, mismatch("fpr95_ood_positive", *r.FPR95OODPositive, v)
	}
	return true, nil
}

// sameReport reports the first metric of got that differs from want.
func sameReport(field string, got, want metrics.Report, mismatch func(string, any, any) error) error {
	for _, m := range []struct {
		name      string
		got, want float64
	}{
		{"fpr95", got.FPR95, want.FPR95},
		{"detection_error", got.DetectionError, want.DetectionError},
		{"auroc", got.AUROC, want.AUROC},
		{"aupr_in", got.AUPRIn, want.AUPRIn},
		{"aupr_out", got.AUPROut, want.AUPROut},
	} {
		if m.got != m.want {
			return mismatch(field+"."+m.name, m.got, m.want)
		}
	}
	return nil
}

// fillOODPositive computes a record's missing OOD-positive FPR@95 from its
// scores.
func fillOODPositive(s *Store, r *Record) error {
	id, ood, err := s.Scores(r.Key)
	if err != nil {
		return err
	}
	v, err := metrics.FPR95OODPositive(id, ood)
	if err != nil {
		return fmt.Errorf("%s: scores of %s: %w", s.dir, r.Key, err)
	}
	r.FPR95OODPositive = &v
	return nil
}
