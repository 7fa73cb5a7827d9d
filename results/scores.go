package results

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"

	"github.com/mcdood/mcdood/internal/atomicfile"
)

// The scores file format (see Store).
const (
	scoresMagic   = "MCDSCORE"
	scoresVersion = 1
	// maxScores bounds nID + nOOD when reading, so a corrupt count cannot
	// ask for an absurd allocation.
	maxScores = 1 << 31
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// PutScores writes the ID and OOD test scores of the cell key atomically
// (the format is in the Store documentation), replacing any earlier ones. Scores must be finite and
// neither list empty.
func (s *Store) PutScores(key string, id, ood []float64) error {
	path, err := s.ScoresPath(key)
	if err != nil {
		return err
	}
	if err := checkScores(id, ood); err != nil {
		return fmt.Errorf("results: scores of %s: %w", key, err)
	}
	return atomicfile.WriteFile(path, encodeScores(key, id, ood), 0o644)
}

func checkScores(id, ood []float64) error {
	for _, set := range []struct {
		name   string
		scores []float64
	}{{"ID", id}, {"OOD", ood}} {
		if len(set.scores) == 0 {
			return fmt.Errorf("no %s scores", set.name)
		}
		for k, v := range set.scores {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s score %d (0-based) is %v", set.name, k, v)
			}
		}
	}
	return nil
}

func encodeScores(key string, id, ood []float64) []byte {
	b := make([]byte, 0, 36+len(key)+8*(len(id)+len(ood)))
	b = append(b, scoresMagic...)
	b = binary.LittleEndian.AppendUint32(b, scoresVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(key)))
	b = append(b, key...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(id)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(ood)))
	for _, set := range [][]float64{id, ood} {
		for _, v := range set {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// Scores reads the ID and OOD test scores of the cell key. A missing file is
// an error wrapping fs.ErrNotExist; a truncated or corrupt one, or one that
// holds another key's scores, is an error naming the file and what was
// wrong.
func (s *Store) Scores(key string) (id, ood []float64, err error) {
	path, err := s.ScoresPath(key)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	fileKey, id, ood, err := decodeScores(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if fileKey != key {
		return nil, nil, fmt.Errorf("%s: holds the scores of key %q, want %q", path, fileKey, key)
	}
	return id, ood, nil
}

// decodeScores parses a scores file, checking its length and checksum.
func decodeScores(data []byte) (key string, id, ood []float64, err error) {
	const fixed = len(scoresMagic) + 4 + 4 + 8 + 8 + 4
	if len(data) < len(scoresMagic) || !bytes.Equal(data[:len(scoresMagic)], []byte(scoresMagic)) {
		return "", nil, nil, fmt.Errorf("not a scores file (want it to start with %q)", scoresMagic)
	}
	if len(data) < fixed {
		return "", nil, nil, fmt.Errorf("truncated scores file: %d bytes, a header alone takes %d", len(data), fixed)
	}
	le := binary.LittleEndian
	if v := le.Uint32(data[8:]); v != scoresVersion {
		return "", nil, nil, fmt.Errorf("scores format version %d, want %d", v, scoresVersion)
	}
	keyLen := uint64(le.Uint32(data[12:]))
	if uint64(len(data)) < uint64(fixed)+keyLen {
		return "", nil, nil, fmt.Errorf("truncated scores file: %d bytes, the header says the key alone takes %d", len(data), keyLen)
	}
	p := 16 + int(keyLen)
	key = string(data[16:p])
	nID, nOOD := le.Uint64(data[p:]), le.Uint64(data[p+8:])
	p += 16
	if nID > maxScores || nOOD > maxScores {
		return "", nil, nil, fmt.Errorf("corrupt scores header: %d ID and %d OOD scores", nID, nOOD)
	}
	if want := uint64(fixed) + keyLen + 8*(nID+nOOD); uint64(len(data)) != want {
		return "", nil, nil, fmt.Errorf("truncated or padded scores file: %d bytes, the header (%d ID and %d OOD scores) says %d",
			len(data), nID, nOOD, want)
	}
	body, sum := data[:len(data)-4], le.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return "", nil, nil, fmt.Errorf("corrupt scores file: CRC-32C %08x, the file says %08x", got, sum)
	}
	read := func(n uint64) []float64 {
		out := make([]float64, n)
		for k := range out {
			out[k] = math.Float64frombits(le.Uint64(data[p:]))
			p += 8
		}
		return out
	}
	id, ood = read(nID), read(nOOD)
	if err := checkScores(id, ood); err != nil {
		return "", nil, nil, fmt.Errorf("bad scores: %w", err)
	}
	return key, id, ood, nil
}
