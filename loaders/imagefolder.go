package loaders

import (
	"cmp"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcdood/mcdood/internal/progress"
)

// Image folders and archives, as ODIN's OOD archives are laid out (Liang et
// al., 2018, github.com/ShiyuLiang/odin-pytorch): Imagenet/test/*.jpg,
// LSUN/test/*.jpg, iSUN/iSUN_patches/*.jpeg … — a folder holding a subfolder
// of images. The MCD authors read them with make_dataset
// (YU1ut/UOOD-MCD utils/loader.py), which looks only inside the root's
// subdirectories, walks each with sorted(os.walk(d)) and sorts the file names
// within each directory. We do the same, with two documented choices:
//
//   - subdirectories are visited in sorted order (make_dataset lists them with
//     os.listdir, whose order is the file system's; ODIN's archives have one
//     subdirectory, so nothing changes for them);
//   - a folder whose images all lie directly in it (no image in any
//     subdirectory) is read flat, so any folder of images a user points at
//     works; when some image lies in a subdirectory, images directly in the
//     root are ignored, as make_dataset ignores them.
//
// The order is: directories by their path (a byte-wise string sort, as
// Python sorts os.walk's tuples), files by name within each directory. An
// archive (.tar, .tar.gz, .zip) is read in place as if extracted, its root
// being the one top-level directory all its images share (Imagenet/ in
// Imagenet.tar.gz) or the archive itself. Files are kept by extension (the
// authors' IMG_EXTENSIONS plus .tiff); AppleDouble "._*" files (macOS
// metadata) are skipped. A file that fails to decode is an error naming the
// path (and archive member); nothing is skipped silently.

// ImageOptions says how ReadImages turns images into 32×32.
type ImageOptions struct {
	Fit      Fit                // FitResize (default), FitCrop, FitODINResize or FitODINCrop
	Seed     uint64             // seeds the crop fits' window positions (PCG(Seed, 0))
	Progress *progress.Reporter // nil draws nothing
}

// imageEntry is one image found in a folder or archive.
type imageEntry struct {
	dir, base string // the sort key: directory relative to the set's root, file name
	label     string // file path, or archive:member
	data      []byte // archive members are read while walking; files later
	file      string // file path when data is nil
}

// ReadImages reads the images of a folder or a .tar/.tar.gz/.zip archive at
// p, in the MCD authors' order, into a 32×32 Dataset named name whose Sources
// record each image's path (archive:member for archive members).
func ReadImages(name, p string, opts ImageOptions) (*Dataset, error) {
	entries, err := listImages(p)
	if err != nil {
		return nil, err
	}
	ds, err := decodeEntries(entries, []fitSpec{{name: name, fit: opts.Fit, seed: opts.Seed}}, opts.Progress, "reading "+name)
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

// listImages finds the images of a folder or archive, sorted.
func listImages(p string) ([]imageEntry, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	var entries []imageEntry
	if st.IsDir() {
		entries, err = listFolder(p)
	} else {
		entries, err = listArchive(p)
	}
	if err != nil {
		return nil, err
	}
	entries = keepAuthorsRoot(entries)
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: no images (files ending in %s) in it or its subfolders", p, strings.Join(imageExtensions, ", "))
	}
	sortEntries(entries)
	return entries, nil
}

func skipName(base string) bool {
	return strings.HasPrefix(base, "._") || !isImageName(base)
}

func listFolder(root string) ([]imageEntry, error) {
	var entries []imageEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || skipName(d.Name()) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		entries = append(entries, imageEntry{dir: path.Dir(rel), base: path.Base(rel), label: p, file: p})
		return nil
	})
	return entries, err
}

func listArchive(file string) ([]imageEntry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return listArchiveReader(file, f, st.Size())
}

func listArchiveReader(file string, ra io.ReaderAt, size int64) ([]imageEntry, error) {
	var entries []imageEntry
	err := walkArchiveReader(file, ra, size, func(m *member) error {
		base := path.Base(m.Name)
		if skipName(base) {
			return nil
		}
		data, err := readMember(m)
		if err != nil {
			return err
		}
		entries = append(entries, imageEntry{dir: path.Dir(m.Name), base: base, label: memberLabel(file, m.Name), data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The archive's root: the top-level directory every image shares.
	top := ""
	for i, e := range entries {
		if e.dir == "." {
			top = ""
			break
		}
		first, _, _ := strings.Cut(e.dir, "/")
		if i == 0 {
			top = first
		} else if first != top {
			top = ""
			break
		}
	}
	if top != "" {
		for i := range entries {
			d := strings.TrimPrefix(strings.TrimPrefix(entries[i].dir, top), "/")
			if d == "" {
				d = "."
			}
			entries[i].dir = d
		}
	}
	return entries, nil
}

// keepAuthorsRoot drops images directly in the root when some image lies in
// a subdirectory (make_dataset reads only the root's subdirectories).
func keepAuthorsRoot(entries []imageEntry) []imageEntry {
	nested := slices.ContainsFunc(entries, func(e imageEntry) bool { return e.dir != "." })
	if !nested {
		return entries
	}
	return slices.DeleteFunc(entries, func(e imageEntry) bool { return e.dir == "." })
}

// sortEntries orders by directory path, then file name, byte-wise.
func sortEntries(entries []imageEntry) {
	slices.SortStableFunc(entries, func(a, b imageEntry) int {
		if c := cmp.Compare(a.dir, b.dir); c != 0 {
			return c
		}
		return cmp.Compare(a.base, b.base)
	})
}

// fitSpec is one derived data set made from a list of images.
type fitSpec struct {
	name string
	fit  Fit
	seed uint64
}

// newRand is the package's one way to make a seeded generator.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0)) }

// decodeEntries decodes every entry once and fits it once per spec, so two
// derivations of the same images (Tiny ImageNet crop and resize) share the
// decoding.
func decodeEntries(entries []imageEntry, specs []fitSpec, rep *progress.Reporter, desc string) ([]*Dataset, error) {
	out := make([]*Dataset, len(specs))
	rngs := make([]*rand.Rand, len(specs))
	sources := make([]string, len(entries))
	for i, e := range entries {
		sources[i] = e.label
	}
	for k, s := range specs {
		out[k] = &Dataset{Name: s.name, Pixels: make([]byte, len(entries)*ImageBytes), Sources: slices.Clone(sources)}
		if s.fit.seeded() {
			rngs[k] = newRand(s.seed)
		}
	}
	bar := rep.Start(desc, int64(len(entries)), "img")
	for i := range entries {
		e := &entries[i]
		data := e.data
		if data == nil {
			var err error
			if data, err = os.ReadFile(e.file); err != nil {
				return nil, err
			}
		}
		im, err := decodeRGB(data)
		if err != nil {
			return nil, fmt.Errorf("%s: decode: %w", e.label, err)
		}
		e.data = nil // archive bytes are no longer needed
		for k, s := range specs {
			fitTo32(im, s.fit, rngs[k], out[k].Image(i))
		}
		bar.Add(1)
	}
	bar.Finish()
	return out, nil
}
