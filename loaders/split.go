package loaders

import "fmt"

// The paper's evaluation split (Yu & Aizawa, ICCV 2019, Sec. 4.1): the ID test
// set and each OOD set are permuted with a fixed seed; the first 1,000 images
// of each are the validation set (for tuning ODIN and for the unlabelled
// fine-tuning pool of MCD's Step B), the rest are the test set. The authors
// do this in YU1ut/UOOD-MCD utils/loader.py with
//
//	np.random.seed(3); p = np.random.permutation(len(data))
//	val = data[p[:1000]]; test = data[p[1000:]]
//
// for the ID test set and, re-seeding, for the OOD image list.
const (
	PaperValImages = 1000 // MCD authors' utils/loader.py: p[:1000]
	PaperSplitSeed = 3    // MCD authors' utils/loader.py: np.random.seed(3)
)

// Split permutes d with numpy's legacy generator seeded with seed
// (NumpyPermutation) and returns the first nVal images as val and the rest as
// test, both copies in permuted order, named d.Name+"/val" and d.Name+"/test".
// Split(d, PaperValImages, PaperSplitSeed) is the MCD authors' split, index
// for index. It is an error when d has fewer than nVal images.
func Split(d *Dataset, nVal int, seed uint32) (val, test *Dataset, err error) {
	if nVal < 0 {
		return nil, nil, fmt.Errorf("split %s: %d validation images, want ≥ 0", d.Name, nVal)
	}
	if d.Len() < nVal {
		return nil, nil, fmt.Errorf("split %s: %d images, want at least %d for the validation set", d.Name, d.Len(), nVal)
	}
	p := NumpyPermutation(d.Len(), seed)
	return d.Subset(d.Name+"/val", p[:nVal]), d.Subset(d.Name+"/test", p[nVal:]), nil
}
