package results

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Score files are what "mcdood metrics" reads: one score per line of text,
// a 1-D .npy array, or both sets in one file that ExportScores wrote (.npz
// with arrays id and ood, or a set,score .csv). Every score must be finite.

// ReadScores reads a score file: a .npy array, else text (ParseScores).
func ReadScores(path string) ([]float64, error) {
	if strings.HasSuffix(path, ".npy") {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		v, err := ReadNPY(data)
		if err == nil {
			err = checkScoreArray("", v)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return v, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseScores(path, f)
}

// MaxScoreLine bounds the length of one line of a score file.
const MaxScoreLine = 1 << 20

// ParseScores parses one finite score per line; blank lines and everything
// from "#" to the end of a line are ignored. Errors name the file (as name)
// and the 1-based line.
func ParseScores(name string, r io.Reader) ([]float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), MaxScoreLine)
	var scores []float64
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF") // a byte-order mark
		}
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		v, err := parseScore(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		scores = append(scores, v)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, MaxScoreLine)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(scores) == 0 {
		return nil, fmt.Errorf("%s: no scores", name)
	}
	return scores, nil
}

// parseScore reads one line's score.
func parseScore(text string) (float64, error) {
	if f := strings.Fields(text); len(f) > 1 {
		return 0, fmt.Errorf("want one score per line, got %d fields %q", len(f), text)
	}
	v, err := strconv.ParseFloat(text, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("score %q is out of the float64 range", text)
	}
	if err != nil {
		return 0, fmt.Errorf("cannot read %q as a number", text)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("score %q is not finite", text)
	}
	return v, nil
}

// checkScoreArray checks scores read from a numpy array: at least one, each
// finite; errors start with prefix (the array's name) and name the index.
func checkScoreArray(prefix string, v []float64) error {
	if len(v) == 0 {
		return fmt.Errorf("%sno scores (an empty array)", prefix)
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%svalue %d (0-based) is %v, want a finite score", prefix, i, x)
		}
	}
	return nil
}

// ReadScorePair reads the ID and OOD scores of one file ExportScores wrote:
// an .npz with arrays id and ood, or a set,score .csv.
func ReadScorePair(path string) (id, ood []float64, err error) {
	npz, csv := strings.HasSuffix(path, ".npz"), strings.HasSuffix(path, ".csv")
	if !npz && !csv {
		return nil, nil, fmt.Errorf("%s: --scores reads .npz or .csv files", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if csv {
		id, ood, err := ReadScoresCSV(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return id, ood, nil
	}
	arrays, err := ReadNPZ(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	id, okI := arrays["id"]
	ood, okO := arrays["ood"]
	if !okI || !okO {
		return nil, nil, fmt.Errorf("%s: want arrays id and ood (mcdood scores writes them)", path)
	}
	for _, a := range []struct {
		name string
		v    []float64
	}{{"id.npy", id}, {"ood.npy", ood}} {
		if err := checkScoreArray(a.name+": ", a.v); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return id, ood, nil
}
