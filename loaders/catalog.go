package loaders

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/mcdood/mcdood/internal/progress"
)

// The catalog maps the kebab-case names used in configuration and on the
// command line to data on disk under one data root:
//
//	cifar10                  cifar-10-batches-bin/ or cifar-10-binary.tar.gz
//	cifar100                 cifar-100-binary/ or cifar-100-binary.tar.gz
//	tinyimagenet-crop        ODIN's Imagenet/ or Imagenet.tar.gz; else derived from tiny-imagenet-200, fit odin-crop
//	tinyimagenet-crop-fix    always derived from tiny-imagenet-200, fit crop (no JPEG step)
//	tinyimagenet-resize      ODIN's Imagenet_resize/ or .tar.gz; else derived from tiny-imagenet-200, fit odin-resize
//	tinyimagenet-resize-fix  always derived from tiny-imagenet-200, fit resize (PIL's antialiased bilinear)
//	lsun-crop                ODIN's LSUN/ or LSUN.tar.gz
//	lsun-resize              ODIN's LSUN_resize/ or LSUN_resize.tar.gz
//	isun                     ODIN's iSUN/ or iSUN.tar.gz
//	cifar10-jpeg             control: the CIFAR-10 test images through fit odin-resize (control.go)
//	uniform, gaussian        generated (seeded), nothing on disk
//
// plus custom OOD sets a caller declares (Custom). A folder wins over an
// archive of the same set; ODIN's archives win over the Tiny ImageNet
// derivations, since they are the images the paper used. The derivations
// without a suffix rebuild ODIN's construction, artefacts included (aliased
// nearest-neighbour downscale, JPEG quality 75: odinfit.go), because those are
// the sets the papers scored; the "-fix" twins are the clean constructions,
// named after CSI's "FIX" sets (Tack et al., NeurIPS 2020), which fixed the
// same artefacts (CSI's own FIX sets are other images: ImageNet and LSUN
// training images, antialiased to 32×32 and saved as PNG).

// DataEnv names the environment variable that sets the data root.
const DataEnv = "MCDOOD_DATA"

// DefaultRoot is the data root when neither a flag nor DataEnv sets one.
const DefaultRoot = "data"

// ResolveRoot picks the data root: flagValue when non-empty, else
// $MCDOOD_DATA (read through getenv, which may be nil), else DefaultRoot.
// A configuration file's value, when there is one, belongs between the flag
// and the environment; callers pass it as flagValue when the flag is unset.
func ResolveRoot(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	if getenv != nil {
		if v := getenv(DataEnv); v != "" {
			return v
		}
	}
	return DefaultRoot
}

// Options configures Open and Check.
type Options struct {
	// Seed seeds random crops (FitCrop and FitODINCrop sets, including the
	// tinyimagenet-crop derivations) and the noise sets.
	Seed uint64
	// NoiseImages is the size of gaussian and uniform; 0 means
	// DefaultNoiseImages.
	NoiseImages int
	// Custom declares OOD sets beyond the built-in ones.
	Custom []Custom
	// Progress draws decoding progress; nil draws nothing.
	Progress *progress.Reporter
	// Context, when not nil, stops decoding between two images once it is
	// done (a signal to the process), with its error.
	Context context.Context
}

// Custom is an OOD set a caller declares: any folder or archive of images
// (read as ReadImages does), made 32×32 by Fit.
type Custom struct {
	Name string // kebab-case, distinct from the built-in names
	Path string // a folder or .tar/.tar.gz/.zip; relative paths are under the data root
	Fit  Fit    // FitResize, FitCrop, FitODINResize or FitODINCrop (crops seeded by Options.Seed)
}

// ValidName reports whether name is lower-case kebab-case ("my-images"),
// the form of every name in plans: data sets, plans, networks' aliases.
func ValidName(name string) bool { return kebab.MatchString(name) }

var kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Validate checks the name, path and fit. A relative path must stay under
// the data root ("../x" is an error); an absolute one may be anywhere.
func (c Custom) Validate() error {
	bad := func(key, format string, args ...any) error {
		return &CustomError{Key: key, Err: fmt.Errorf("custom OOD set %q: "+format, append([]any{c.Name}, args...)...)}
	}
	switch {
	case !kebab.MatchString(c.Name):
		return bad("name", "name must be lower-case kebab-case (like %q)", "my-images")
	case slices.Contains(IDNames(), c.Name) || findOOD(c.Name) != nil:
		return bad("name", "the name is a built-in data set")
	case c.Path == "":
		return bad("path", "no path (want a folder or .tar/.tar.gz/.zip of images)")
	case !filepath.IsAbs(c.Path) && !filepath.IsLocal(c.Path):
		return bad("path", "path %q leaves the data root (a relative path is read under the data root; give an absolute path for images elsewhere)", c.Path)
	}
	if _, err := ParseFit(string(c.Fit)); err != nil {
		return bad("fit", "%w", err)
	}
	return nil
}

// CustomError is what is wrong with a custom set's declaration, with the
// key at fault ("name", "path" or "fit"), for a plan to point at.
type CustomError struct {
	Key string
	Err error
}

func (e *CustomError) Error() string { return e.Err.Error() }
func (e *CustomError) Unwrap() error { return e.Err }

func (c Custom) path(root string) string {
	if filepath.IsAbs(c.Path) {
		return c.Path
	}
	return filepath.Join(root, c.Path)
}

// oodSet is a built-in OOD set: one entry holds everything the catalog,
// Fetch and Check know of it.
type oodSet struct {
	name  string
	title string // as in the paper's tables
	// odin is ODIN's release of the set (Liang et al., ICLR 2018): the base
	// name of its folder and archive under the root, and where Fetch gets
	// it (no checksum is published); nil for noise, the FIX twins and the
	// control.
	odin    *download
	tinyFit Fit // the Tiny ImageNet derivation used when ODIN's is absent
	// construction names the derivation when its pixels differ from the
	// set's first derivation, so that results of the old one are not reused
	// (Construction, hashed into experiments' cell keys); "" otherwise.
	construction string
	noise        func(n int, seed uint64) (*Dataset, error)
	official     int  // images in ODIN's release (Liang et al., 2018, Sec. 4.1)
	cifarControl bool // made from the CIFAR-10 test images (control.go)
}

// odinRelease is ODIN's folder base (and base.tar.gz) at url, one of the
// Dropbox links of the MCD authors' README (YU1ut/UOOD-MCD).
func odinRelease(base, url string) *download {
	return &download{archive: base + ".tar.gz", folder: base, url: url}
}

// The sets in the order of the papers' tables (Liang et al., ICLR 2018,
// Table 2; Yu & Aizawa, ICCV 2019, Table 2: ..., iSUN, Uniform, Gaussian),
// each FIX twin after its set, the control last. ODIN's archives hold
// 10,000 images each, except iSUN with 8,925. Before the ODIN-built sets
// existed, the two Tiny ImageNet names were derived with the fits their FIX
// twins have now; their construction identifiers say what replaced them.
var oodSets = []oodSet{
	{name: "tinyimagenet-crop", title: "TinyImageNet (crop)", odin: odinRelease("Imagenet", "https://www.dropbox.com/s/avgm2u562itwpkl/Imagenet.tar.gz?dl=1"),
		tinyFit: FitODINCrop, construction: string(FitODINCrop), official: 10000},
	{name: "tinyimagenet-crop-fix", title: "TinyImageNet (crop, FIX)", tinyFit: FitCrop, official: 10000},
	{name: "tinyimagenet-resize", title: "TinyImageNet (resize)", odin: odinRelease("Imagenet_resize", "https://www.dropbox.com/s/kp3my3412u5k9rl/Imagenet_resize.tar.gz?dl=1"),
		tinyFit: FitODINResize, construction: string(FitODINResize), official: 10000},
	{name: "tinyimagenet-resize-fix", title: "TinyImageNet (resize, FIX)", tinyFit: FitResize, official: 10000},
	{name: "lsun-crop", title: "LSUN (crop)", odin: odinRelease("LSUN", "https://www.dropbox.com/s/fhtsw1m3qxlwj6h/LSUN.tar.gz?dl=1"), official: 10000},
	{name: "lsun-resize", title: "LSUN (resize)", odin: odinRelease("LSUN_resize", "https://www.dropbox.com/s/moqh2wh8696c3yl/LSUN_resize.tar.gz?dl=1"), official: 10000},
	{name: "isun", title: "iSUN", odin: odinRelease("iSUN", "https://www.dropbox.com/s/ssz7qxfqae0cca5/iSUN.tar.gz?dl=1"), official: 8925},
	{name: "uniform", title: "Uniform", noise: Uniform},
	{name: "gaussian", title: "Gaussian", noise: Gaussian},
	{name: cifarJPEGName, title: "CIFAR-10 (JPEG q75, control)", cifarControl: true, official: 10000},
}

func findOOD(name string) *oodSet {
	for i := range oodSets {
		if oodSets[i].name == name {
			return &oodSets[i]
		}
	}
	return nil
}

// Names lists the built-in OOD sets in the order of the papers' tables, each
// FIX twin after its set, the CIFAR-10 control last: the row order of
// results' tables.
func Names() []string {
	out := make([]string, len(oodSets))
	for i, s := range oodSets {
		out[i] = s.name
	}
	return out
}

// IDNames lists the in-distribution sets.
func IDNames() []string { return []string{"cifar10", "cifar100"} }

// Title is the name of a built-in set as the paper's tables print it
// ("TinyImageNet (crop)"); other names come back unchanged.
func Title(name string) string {
	if s := findOOD(name); s != nil {
		return s.title
	}
	switch name {
	case "cifar10":
		return "CIFAR-10"
	case "cifar100":
		return "CIFAR-100"
	}
	return name
}

// Construction identifies how a built-in derived set is built when that
// changed its pixels since the name was introduced ("odin-resize" for
// tinyimagenet-resize, "odin-crop" for tinyimagenet-crop); "" for every other
// name. Cell keys hash it, so records of the older derivation are never
// taken for the current one, while the keys of unchanged sets stay as they
// were. (With ODIN's archive on disk the set is the archive; the identifier
// stays the same, as the key has never depended on what is on disk.)
func Construction(name string) string {
	if s := findOOD(name); s != nil {
		return s.construction
	}
	return ""
}

// OpenID reads an in-distribution set by name: "cifar10" or "cifar100".
func OpenID(name, root string) (train, test *Dataset, err error) {
	switch name {
	case "cifar10":
		return CIFAR10(root)
	case "cifar100":
		return CIFAR100(root)
	}
	return nil, nil, fmt.Errorf("unknown in-distribution data set %q (known: %s)", name, strings.Join(IDNames(), ", "))
}

// Source says where an OOD set comes from.
type Source struct {
	Name    string
	Path    string // the folder or archive read; "" for generated sets
	Fit     Fit    // how images become 32×32; "" for generated sets
	Derived bool   // built from Tiny ImageNet's test images, not ODIN's archive
	Custom  bool
}

// odinCandidates are the paths tried for ODIN's set base under root.
func odinCandidates(root, base string) []string {
	return []string{filepath.Join(root, base), filepath.Join(root, base+".tar.gz"), filepath.Join(root, base+".tar")}
}

// Locate finds an OOD set without reading it: a *NotFoundError when a
// built-in set's data is missing, an error listing the known names when name
// is unknown. A custom set whose path leads nowhere (nothing there, a
// dangling link or a link loop) or to something neither a folder nor a
// regular file is an error naming the path, not a *NotFoundError: it is
// declared, and there is nothing to fetch.
func Locate(name, root string, opts Options) (Source, error) {
	for _, c := range opts.Custom {
		if c.Name != name {
			continue
		}
		if err := c.Validate(); err != nil {
			return Source{}, err
		}
		p := c.path(root)
		if err := checkCustomPath(p); err != nil {
			where := ""
			if !filepath.IsAbs(c.Path) {
				where = fmt.Sprintf(" (the path %q is relative, so under the data root %s)", c.Path, root)
			}
			return Source{}, fmt.Errorf("custom OOD set %q: %w%s", name, err, where)
		}
		return Source{Name: name, Path: p, Fit: c.Fit, Custom: true}, nil
	}
	s := findOOD(name)
	if s == nil {
		known := Names()
		for _, c := range opts.Custom {
			known = append(known, c.Name)
		}
		return Source{}, fmt.Errorf("unknown OOD data set %q (known: %s)", name, strings.Join(known, ", "))
	}
	if s.noise != nil {
		return Source{Name: name}, nil
	}
	if s.cifarControl {
		return locateCIFARTest(root, name)
	}
	var looked []string
	if s.odin != nil {
		looked = odinCandidates(root, s.odin.folder)
	}
	for _, p := range looked {
		if st, err := os.Stat(p); err == nil && (st.IsDir() || st.Mode().IsRegular()) {
			// The MCD authors apply Resize(32) to every OOD image.
			return Source{Name: name, Path: p, Fit: FitResize}, nil
		}
	}
	if s.tinyFit != "" {
		p, err := tinyLocate(root, name)
		if err == nil {
			return Source{Name: name, Path: p, Fit: s.tinyFit, Derived: true}, nil
		}
		looked = append(looked, err.(*NotFoundError).Looked...)
	}
	fetch := name
	if s.odin == nil {
		fetch = "tinyimagenet" // a FIX twin has no archive of its own
	}
	return Source{}, &NotFoundError{Name: name, Root: root, Looked: looked, Fetch: fetch}
}

// checkCustomPath says what is wrong with a custom set's path: nothing
// there, a dangling link, a link loop, or neither a folder nor a regular
// file. A custom set is declared, so each of these is an error, never
// "missing": there is nothing to fetch.
func checkCustomPath(p string) error {
	st, err := os.Stat(p)
	switch {
	case err == nil && (st.IsDir() || st.Mode().IsRegular()):
		return nil
	case err == nil:
		return notRegularError(p, st.Mode())
	case errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("%s: a loop of symbolic links", p)
	case errors.Is(err, fs.ErrNotExist):
		if lst, lerr := os.Lstat(p); lerr == nil && lst.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			return fmt.Errorf("%s: a symbolic link to %s, which does not exist", p, target)
		}
		return fmt.Errorf("%s: no such folder or file", p)
	}
	return err
}

// Open reads an OOD set by name (a built-in name or a Custom one) from root.
// The returned set is named name and records where each image came from in
// Sources (nil for generated sets).
func Open(name, root string, opts Options) (*Dataset, error) {
	src, err := Locate(name, root, opts)
	if err != nil {
		return nil, err
	}
	return src.open(opts)
}

func (src Source) open(opts Options) (*Dataset, error) {
	if s := findOOD(src.Name); s != nil && s.noise != nil {
		n := opts.NoiseImages
		if n == 0 {
			n = DefaultNoiseImages
		}
		return s.noise(n, opts.Seed)
	}
	if s := findOOD(src.Name); s != nil && s.cifarControl {
		return openCIFARJPEG(src.Name, src.Path)
	}
	if src.Derived {
		ds, err := tinyImageNet(opts.Context, src.Path, []Fit{src.Fit}, opts.Seed, opts.Progress)
		if err != nil {
			return nil, err
		}
		ds[0].Name = src.Name
		return ds[0], nil
	}
	return ReadImages(src.Name, src.Path, ImageOptions{Fit: src.Fit, Seed: opts.Seed, Progress: opts.Progress, Context: opts.Context})
}
