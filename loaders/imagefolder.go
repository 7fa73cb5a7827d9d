package loaders

import (
	"cmp"
	"context"
	"errors"
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
	// Context, when not nil, stops the reading between two images once it
	// is done (a signal to the process), with its error.
	Context context.Context
}

// Reading is streaming: each image is decoded as it is read and only its
// 32×32 result is kept, so memory is the output plus one image's decoding,
// however large the files. Folders and zips are read in the authors' order;
// a tar or tar.gz, which can only be read front to back, is listed in one
// pass and decoded in a second, each image's result written to its place in
// the authors' order. The seeded crop windows depend on that order, so for a
// crop fit of a tar a first decoding pass measures every image and the
// windows are drawn in order before the second (cropWindow): the pixels are
// those of reading in order. Archives are read within archiveLimits.
//
// A folder given as a symbolic link is followed. Inside it, as os.walk in
// make_dataset, links to folders are not followed; links to images are.
// Those that cannot be followed (missing target, a loop) and links to
// folders are counted in the set's Warnings, with an example: not
// silently skipped. Image files that are not regular files (a named pipe, a
// device) are errors naming them.

// imageEntry is one image found in a folder or archive.
type imageEntry struct {
	dir, base string // the sort key: directory relative to the set's root, file name
	label     string // file path, or archive:member
	file      string // folder image: its path
	member    int    // archive image: its index in imageSet.arc.members
}

// imageSet is the images of a folder or an archive, in the authors' order.
type imageSet struct {
	entries  []imageEntry
	arc      *imageArchive // nil for a folder
	warnings []string      // what listing skipped, for Dataset.Warnings
	// maxPixels bounds each image's size; 0 means maxDecodePixels (fuzz
	// tests lower it).
	maxPixels int64
}

// Close closes the set's archive, if any.
func (s *imageSet) Close() {
	if s.arc != nil {
		s.arc.Close()
	}
}

// inOrder reports whether each reads the images in the authors' order.
func (s *imageSet) inOrder() bool { return s.arc == nil || s.arc.inOrder() }

// each calls fn with every image of the set and a reader of its bytes: in
// the authors' order for a folder or zip, in archive order for a tar; i is
// the image's position in the authors' order either way.
func (s *imageSet) each(fn func(i int, e *imageEntry, r io.Reader) error) error {
	if s.arc == nil {
		for i := range s.entries {
			e := &s.entries[i]
			f, _, err := openRegular(e.file)
			if err != nil {
				return err
			}
			err = fn(i, e, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	pos := make(map[int]int, len(s.entries)) // member → position
	idx := make([]int, len(s.entries))
	for i, e := range s.entries {
		pos[e.member] = i
		idx[i] = e.member
	}
	return s.arc.read(idx, func(m int, r io.Reader) error {
		i := pos[m]
		return fn(i, &s.entries[i], r)
	})
}

// decodeEach decodes every image of the set (in each's order), calling fn
// with its position in the authors' order. A failing image is an error
// naming it.
func (s *imageSet) decodeEach(fn func(i int, im rgbImage) error) error {
	limit := s.maxPixels
	if limit == 0 {
		limit = maxDecodePixels
	}
	return s.each(func(i int, e *imageEntry, r io.Reader) error {
		im, err := decodeRGBReader(r, limit)
		if err != nil {
			return fmt.Errorf("%s: decode: %w", e.label, err)
		}
		return fn(i, im)
	})
}

// fitter makes images 32×32 by one fit, drawing crop windows in the
// authors' order.
type fitter struct {
	fit  Fit
	rng  *rand.Rand // draws windows as images come, when they come in order
	wins []window   // windows drawn beforehand, by position, otherwise
}

// fitters returns one fitter per spec. When the set is not read in the
// authors' order and a fit is seeded, it first decodes every image to learn
// its size and draws the windows in order.
func (s *imageSet) fitters(specs []fitSpec) ([]*fitter, error) {
	out := make([]*fitter, len(specs))
	ahead := false
	for k, sp := range specs {
		out[k] = &fitter{fit: sp.fit}
		if sp.fit.seeded() {
			out[k].rng = newRand(sp.seed)
			ahead = ahead || !s.inOrder()
		}
	}
	if !ahead {
		return out, nil
	}
	sizes := make([][2]int, len(s.entries))
	if err := s.decodeEach(func(i int, im rgbImage) error {
		sizes[i] = [2]int{im.w, im.h}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, f := range out {
		if f.rng == nil {
			continue
		}
		f.wins = make([]window, len(sizes))
		for i, wh := range sizes {
			f.wins[i] = cropWindow(wh[0], wh[1], f.rng)
		}
		f.rng = nil
	}
	return out, nil
}

// fitTo32 makes image i of the set 32×32 into dst.
func (f *fitter) fitTo32(i int, im rgbImage, dst []byte) {
	if f.wins != nil {
		fitTo32At(im, f.fit, f.wins[i], dst)
		return
	}
	fitTo32(im, f.fit, f.rng, dst)
}

// ReadImages reads the images of a folder or a .tar/.tar.gz/.zip archive at
// p, in the MCD authors' order, into a 32×32 Dataset named name whose Sources
// record each image's path (archive:member for archive members) and whose
// Warnings say what was skipped.
func ReadImages(name, p string, opts ImageOptions) (*Dataset, error) {
	set, err := listImages(p)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	ds, err := decodeEntries(opts.Context, set, []fitSpec{{name: name, fit: opts.Fit, seed: opts.Seed}}, opts.Progress, "reading "+name)
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

// listImages finds the images of a folder or archive, sorted. p may be a
// symbolic link to either; anything but a folder or a regular file is an
// error naming it.
func listImages(p string) (*imageSet, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	var set *imageSet
	switch {
	case st.IsDir():
		set, err = listFolder(p)
	case st.Mode().IsRegular():
		set, err = listArchive(p)
	default:
		return nil, notRegularError(p, st.Mode())
	}
	if err != nil {
		return nil, err
	}
	set.entries = keepAuthorsRoot(set.entries)
	if len(set.entries) == 0 {
		set.Close()
		msg := fmt.Sprintf("%s: no images (files ending in %s) in it or its subfolders", p, strings.Join(imageExtensions, ", "))
		if len(set.warnings) > 0 {
			msg += "; " + strings.Join(set.warnings, "; ")
		}
		return nil, errors.New(msg)
	}
	sortEntries(set.entries)
	return set, nil
}

func skipName(base string) bool {
	return strings.HasPrefix(base, "._") || !isImageName(base)
}

// listFolder lists the images under root, following root itself when it is
// a symbolic link (the labels keep root as given).
func listFolder(root string) (*imageSet, error) {
	walk := root
	if lst, err := os.Lstat(root); err == nil && lst.Mode()&fs.ModeSymlink != 0 {
		if walk, err = filepath.EvalSymlinks(root); err != nil {
			return nil, err
		}
	}
	set := &imageSet{}
	var dangling, dirLinks []string
	err := filepath.WalkDir(walk, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), "._") {
			return nil
		}
		typ := d.Type()
		if typ&fs.ModeSymlink != 0 {
			st, err := os.Stat(p)
			switch {
			case err != nil:
				if isImageName(d.Name()) {
					dangling = append(dangling, p)
				}
				return nil
			case st.IsDir():
				dirLinks = append(dirLinks, p)
				return nil
			}
			typ = st.Mode().Type()
		}
		if skipName(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(walk, p)
		if err != nil {
			return err
		}
		label := p
		if walk != root {
			label = filepath.Join(root, rel)
		}
		if !typ.IsRegular() {
			return notRegularError(label, typ)
		}
		rel = filepath.ToSlash(rel)
		set.entries = append(set.entries, imageEntry{dir: path.Dir(rel), base: path.Base(rel), label: label, file: p})
		return nil
	})
	if err != nil {
		return nil, err
	}
	relabel := func(p string) string {
		if walk == root {
			return p
		}
		rel, _ := filepath.Rel(walk, p)
		return filepath.Join(root, rel)
	}
	if n := len(dangling); n > 0 {
		set.warnings = append(set.warnings, fmt.Sprintf("%d image %s skipped: the target is missing or a link loop (e.g. %s)", n, plural(n, "link", "links"), relabel(dangling[0])))
	}
	if n := len(dirLinks); n > 0 {
		set.warnings = append(set.warnings, fmt.Sprintf("%d %s to folders not followed, as the MCD authors' loader (os.walk) does not (e.g. %s)", n, plural(n, "link", "links"), relabel(dirLinks[0])))
	}
	return set, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// listArchive lists the images of the archive at file. The header of each
// image member of a tar is checked while listing, so an archive of junk
// named like images (a bomb of zeros) stops at its first such member.
func listArchive(file string) (*imageSet, error) {
	a, err := openImageArchive(file, probeImage(file, maxDecodePixels))
	if err != nil {
		return nil, err
	}
	return archiveImages(a), nil
}

// probeImage checks the header of an archive member named like an image
// (decodeHeader), as decoding it would.
func probeImage(file string, maxPixels int64) func(m *member) error {
	return func(m *member) error {
		if skipName(path.Base(m.Name)) {
			return nil
		}
		if _, _, err := decodeHeader(m, maxPixels); err != nil {
			return fmt.Errorf("%s: decode: %w", memberLabel(file, m.Name), err)
		}
		return nil
	}
}

// archiveImages lists the images among a's members, relative to the
// archive's root: the top-level directory every image shares.
func archiveImages(a *imageArchive) *imageSet {
	set := &imageSet{arc: a}
	for i, m := range a.members {
		base := path.Base(m.Name)
		if skipName(base) {
			continue
		}
		set.entries = append(set.entries, imageEntry{dir: path.Dir(m.Name), base: base, label: memberLabel(a.file, m.Name), member: i})
	}
	entries := set.entries
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
	return set
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

// decodeEntries decodes every image of set once and fits it once per spec,
// so two derivations of the same images (Tiny ImageNet crop and resize)
// share the decoding. A done ctx (nil for none) stops it between images.
func decodeEntries(ctx context.Context, set *imageSet, specs []fitSpec, rep *progress.Reporter, desc string) ([]*Dataset, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	fits, err := set.fitters(specs)
	if err != nil {
		return nil, err
	}
	out := make([]*Dataset, len(specs))
	sources := make([]string, len(set.entries))
	for i, e := range set.entries {
		sources[i] = e.label
	}
	for k, s := range specs {
		out[k] = &Dataset{Name: s.name, Pixels: make([]byte, len(set.entries)*ImageBytes), Sources: slices.Clone(sources), Warnings: slices.Clone(set.warnings)}
	}
	bar := rep.Start(desc, int64(len(set.entries)), "img")
	err = set.decodeEach(func(i int, im rgbImage) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for k, f := range fits {
			f.fitTo32(i, im, out[k].Image(i))
		}
		bar.Add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	bar.Finish()
	return out, nil
}
