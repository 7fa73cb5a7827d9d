package results

import (
	"bytes"
	"encoding/json"
	"os"

	"github.com/mcdood/mcdood/internal/atomicfile"
)

// A cell's test scores leave the harness in two formats that numpy, pandas
// and scikit-learn read directly:
//
//	NAME.npz   numpy's zip of arrays: id.npy and ood.npy, float64 (np.load)
//	NAME.csv   a header "set,score", then one row per image: id or ood, the
//	           score with 17 significant digits (pandas.read_csv)
//	NAME.json  the cell: key, ID set, network, OOD set, method, setting,
//	           seed, accuracy and its five exact metrics
//
// Scores are as the detector returned them: higher means more
// in-distribution (MCD's is the negated discrepancy). The float64 values are
// exactly the stored ones, so metrics recomputed from them match the
// record's to rounding.

// ExportScores writes the scores of r (read from the store) as
// dir/NAME.npz, .csv and .json, NAME being the record's file name; every
// file is written atomically. It returns the paths written.
func ExportScores(s *Store, r *Record, dir string) ([]string, error) {
	id, ood, err := s.Scores(r.Key)
	if err != nil {
		return nil, err
	}
	name, err := FileName(r.Key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := dir + string(os.PathSeparator) + name
	var npz bytes.Buffer
	if err := WriteNPZ(&npz, map[string][]float64{"id": id, "ood": ood}, []string{"id", "ood"}); err != nil {
		return nil, err
	}
	var table bytes.Buffer
	if err := WriteScoresCSV(&table, id, ood); err != nil {
		return nil, err
	}
	side, err := json.MarshalIndent(struct {
		Key      string  `json:"key"`
		ID       string  `json:"id"`
		Network  string  `json:"network"`
		OOD      string  `json:"ood"`
		Method   string  `json:"method"`
		Detector string  `json:"detector"`
		Setting  string  `json:"setting"`
		Seed     uint64  `json:"seed"`
		Accuracy float64 `json:"accuracy"`
		Metrics  any     `json:"metrics"`
		Scores   string  `json:"scores"`
	}{r.Key, r.ID, r.Network, r.OOD, r.Method, r.Detector, r.Setting, r.Seed, r.Accuracy, r.Metrics,
		"higher means more in-distribution; id: the ID test images, ood: the OOD test images"}, "", "  ")
	if err != nil {
		return nil, err
	}
	var written []string
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".npz", npz.Bytes()}, {".csv", table.Bytes()}, {".json", append(side, '\n')}} {
		if err := atomicfile.WriteFile(base+f.ext, f.data, 0o644); err != nil {
			return written, err
		}
		written = append(written, base+f.ext)
	}
	return written, nil
}
