package loaders

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcdood/mcdood/internal/progress"
)

// Fetching. Downloads are kept as the archives they are (the readers read
// .tar.gz and .zip in place), so one rename makes a download visible and
// there is never a half-extracted folder. Every download is written to a
// hidden temporary file in the data root (".NAME.part-*"), fsynced, checked
// (the published md5 where there is one; then the structure, by reading
// every record or decoding every image) and only then renamed to its final
// name, and the directory fsynced: a killed fetch leaves at most a
// ".part" file, never a file under the final name. The next fetch of the
// same file removes such leftovers. Folders copied from a mirror go to a
// temporary folder first and are renamed the same way.
//
// A mirror (--mirror DIR) holds the extracted layout (cifar-10-batches-bin/,
// tiny-imagenet-200/ …) or the official archives. With a mirror, only the
// mirror is used. Mirror folders are not the official bytes (the project's
// mirror rebuilt most CIFAR-10 pixels from JPEG copies), so the official md5
// does not apply to them: their structure is checked instead (whole
// records, label ranges, every image decodes), and counts that differ from
// the official release are reported as warnings.

// download is one file or folder Fetch can put under the data root.
type download struct {
	name    string // fetch name
	archive string // file name of the archive under the root
	folder  string // the extracted folder name accepted instead
	url     string
	md5     string // published md5 of the archive; "" if none is published
	md5From string // who publishes it
	// check reads a folder or archive at p completely and summarises it.
	check func(p string) (summary string, warnings []string, err error)
}

const (
	cifarMD5Source = "https://www.cs.toronto.edu/~kriz/cifar.html"
	// Stanford publishes no checksum; this md5 of the CS231n zip is the one
	// Tiny ImageNet loaders check (e.g. Avalanche's tiny_imagenet.py).
	tinyMD5Source = "the Tiny ImageNet loaders (Stanford publishes none)"
)

// baseDownloads are the data Fetch gets besides ODIN's sets: the in-distribution
// sets and the Tiny ImageNet test images the derivations are made from.
var baseDownloads = []*download{
	{name: "cifar10", archive: "cifar-10-binary.tar.gz", folder: "cifar-10-batches-bin",
		url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
		md5: "c32a1d4ab5d03f1284b67883e8d87530", md5From: cifarMD5Source, check: checkCIFARAt(cifar10Layout)},
	{name: "cifar100", archive: "cifar-100-binary.tar.gz", folder: "cifar-100-binary",
		url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
		md5: "03b5dce01913d631647c71ecec9e9cb8", md5From: cifarMD5Source, check: checkCIFARAt(cifar100Layout)},
	{name: "tinyimagenet", archive: tinyZip, folder: tinyFolder,
		url: "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
		md5: "90528d7ca1a48142e341f4ef8d21d0de", md5From: tinyMD5Source, check: checkTinyAt},
}

// downloads are baseDownloads, then ODIN's sets from the catalog (oodSet.odin).
var downloads = slices.Concat(baseDownloads, odinDownloads())

func odinDownloads() []*download {
	var out []*download
	for _, s := range oodSets {
		if s.odin == nil {
			continue
		}
		d := *s.odin
		d.name = s.name
		d.check = func(p string) (string, []string, error) {
			ds, err := ReadImages(s.name, p, ImageOptions{Fit: FitResize})
			if err != nil {
				return "", nil, err
			}
			var w []string
			if ds.Len() != s.official {
				w = append(w, fmt.Sprintf("%d images; ODIN's set has %d", ds.Len(), s.official))
			}
			return fmt.Sprintf("%d images decode", ds.Len()), w, nil
		}
		out = append(out, &d)
	}
	return out
}

func checkCIFARAt(l *cifarLayout) func(p string) (string, []string, error) {
	return func(p string) (string, []string, error) {
		st, err := os.Stat(p)
		if err != nil {
			return "", nil, err
		}
		var train, test *Dataset
		if st.IsDir() {
			train, test, err = l.readDir(p)
		} else {
			train, test, err = l.readArchive(p)
		}
		if err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("%d training + %d test images, %d-byte records, labels 0..%d", train.Len(), test.Len(), l.recordBytes(), l.classes-1),
			cifarWarnings(l, train, test), nil
	}
}

func checkTinyAt(p string) (string, []string, error) {
	ds, err := TinyImageNet(p, []Fit{FitResize}, 0, nil)
	if err != nil {
		return "", nil, err
	}
	var w []string
	if n := ds[0].Len(); n != tinyTestCount {
		w = append(w, fmt.Sprintf("%d test images; the official release has %d", n, tinyTestCount))
	}
	return fmt.Sprintf("%d test images decode", ds[0].Len()), w, nil
}

func findDownload(name string) *download {
	for _, d := range downloads {
		if d.name == name {
			return d
		}
	}
	return nil
}

// FetchNames lists what Fetch accepts, besides "all": the data sets, then
// the published weights (WeightsNames).
func FetchNames() []string {
	out := make([]string, 0, len(downloads)+len(weightsFiles))
	for _, d := range downloads {
		out = append(out, d.name)
	}
	return append(out, WeightsNames()...)
}

// FetchOptions configures Fetch.
type FetchOptions struct {
	// Mirror, when set, is a local folder to copy from instead of
	// downloading (no network is used).
	Mirror string
	// Client makes the HTTP requests; nil means http.DefaultClient. Tests
	// inject one that talks to an httptest server.
	Client *http.Client
	// Log receives one line per step (what was fetched, checksums,
	// warnings); nil discards.
	Log io.Writer
	// Progress draws download and copy bars; nil draws nothing.
	Progress *progress.Reporter
}

func (o *FetchOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Fetch gets the data set name ("cifar10", "cifar100", "tinyimagenet",
// "tinyimagenet-crop", "tinyimagenet-resize", "lsun-crop", "lsun-resize",
// "isun"), the published weights name ("odin-densenet10",
// "odin-densenet100", "resnet56-cifar10"; weights.go), or "all" into root,
// from the official location or from opts.Mirror. A set already present
// under root is left alone ("mcdood data check" verifies it); weights
// already present are verified against their pinned sha256. For
// tinyimagenet-crop and tinyimagenet-resize, when ODIN's archive cannot be
// had but Tiny ImageNet can (or is present), Tiny ImageNet is fetched
// instead and the set is derived from it (see TinyImageNet). Errors for a
// source that cannot be reached match ErrUnavailable.
func Fetch(ctx context.Context, name, root string, opts FetchOptions) error {
	if name == "all" {
		var errs []error
		for _, n := range FetchNames() {
			if err := Fetch(ctx, n, root, opts); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	if w := findWeights(name); w != nil {
		return fetchWeights(ctx, w, root, &opts)
	}
	d := findDownload(name)
	if d == nil {
		return fmt.Errorf("unknown data set %q for fetch (known: %s, all)", name, strings.Join(FetchNames(), ", "))
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("%s: data root: %w", name, err)
	}
	err := fetchOne(ctx, d, root, &opts)
	if err == nil || !errors.Is(err, ErrUnavailable) {
		return err
	}
	s := findOOD(name)
	if s == nil || s.tinyFit == "" {
		return err
	}
	// ODIN's Tiny ImageNet set is unavailable: derive it instead.
	tiny := findDownload("tinyimagenet")
	if p, ok := present(tiny, root); ok {
		opts.logf("%v; using the derivation from %s (%s)", err, p, fitNote(s.tinyFit))
		return nil
	}
	opts.logf("%v; fetching Tiny ImageNet to derive it (%s)", err, fitNote(s.tinyFit))
	if terr := fetchOne(ctx, tiny, root, &opts); terr != nil {
		return fmt.Errorf("%w; and for the derivation: %w", err, terr)
	}
	return nil
}

// present reports the folder or archive of d under root, if any.
func present(d *download, root string) (string, bool) {
	for _, p := range []string{filepath.Join(root, d.folder), filepath.Join(root, d.archive)} {
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

func fetchOne(ctx context.Context, d *download, root string, o *FetchOptions) error {
	if p, ok := present(d, root); ok {
		o.logf("%s: already present at %s (run \"mcdood data check\" to verify it)", d.name, p)
		return nil
	}
	if o.Mirror != "" {
		return fetchFromMirror(ctx, d, root, o)
	}
	return fetchURL(ctx, d, root, o)
}

func fetchFromMirror(ctx context.Context, d *download, root string, o *FetchOptions) error {
	src := filepath.Join(o.Mirror, d.folder)
	if st, err := os.Stat(src); err == nil && st.IsDir() {
		dst := filepath.Join(root, d.folder)
		o.logf("%s: copying %s → %s", d.name, src, dst)
		summary, warnings, err := copyFolderAtomic(ctx, src, dst, d, o)
		if err != nil {
			return fmt.Errorf("%s: copy from mirror: %w", d.name, err)
		}
		o.logf("%s: a mirror folder is not the official archive (and the project's mirror is not byte-identical to it), so the published md5 does not apply; checked the structure instead: %s", d.name, summary)
		for _, w := range warnings {
			o.logf("%s: warning: %s", d.name, w)
		}
		return nil
	}
	src = filepath.Join(o.Mirror, d.archive)
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		f, size, err := openRegular(src)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		defer f.Close()
		o.logf("%s: copying %s → %s", d.name, src, filepath.Join(root, d.archive))
		return saveVerified(ctxReader{ctx, f}, size, src, d, root, o)
	}
	return fmt.Errorf("%s: %w: not in mirror %s (looked for %s/ and %s)", d.name, ErrUnavailable, o.Mirror, d.folder, d.archive)
}

func fetchURL(ctx context.Context, d *download, root string, o *FetchOptions) error {
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	o.logf("%s: downloading %s → %s", d.name, d.url, filepath.Join(root, d.archive))
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", d.name, ctx.Err())
		}
		return fmt.Errorf("%s: %w: %w", d.name, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %w: GET %s: HTTP %s", d.name, ErrUnavailable, d.url, resp.Status)
	}
	return saveVerified(resp.Body, resp.ContentLength, d.url, d, root, o)
}

// saveVerified streams r (length n, or −1 if unknown) into a temporary file
// beside root/d.archive, checks the md5 (when published) and the structure,
// and renames it into place.
func saveVerified(r io.Reader, n int64, from string, d *download, root string, o *FetchOptions) (err error) {
	final := filepath.Join(root, d.archive)
	removeLeftovers(root, d.archive)
	tmp, err := os.CreateTemp(root, "."+d.archive+".part-*")
	if err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	md5h, shah := md5.New(), sha256.New()
	bar := o.Progress.StartBytes(d.archive, n)
	got, err := io.Copy(io.MultiWriter(tmp, md5h, shah, bar), r)
	if err == nil && n >= 0 && got != n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		if n >= 0 {
			return fmt.Errorf("%s: %s interrupted after %d of %d bytes; nothing was kept: %w", d.name, from, got, n, err)
		}
		return fmt.Errorf("%s: %s interrupted after %d bytes; nothing was kept: %w", d.name, from, got, err)
	}
	bar.Finish()
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp made it 0600
		return fmt.Errorf("%s: %w", d.name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	sum := hex.EncodeToString(md5h.Sum(nil))
	sha := hex.EncodeToString(shah.Sum(nil))
	if d.md5 != "" {
		if sum != d.md5 {
			return fmt.Errorf("%s: md5 of %s is %s, want %s (published by %s); the file was discarded", d.name, from, sum, d.md5, d.md5From)
		}
		o.logf("%s: md5 %s matches the published checksum", d.name, sum)
	} else {
		o.logf("%s: no checksum is published for %s (ODIN's Dropbox archive); sha256 of this copy: %s", d.name, d.archive, sha)
	}
	summary, warnings, err := d.check(tmp.Name())
	if err != nil {
		return fmt.Errorf("%s: %s is not a valid %s: %w", d.name, from, d.archive, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	syncDir(root)
	o.logf("%s: saved %s (%s; sha256 %s)", d.name, final, summary, sha)
	for _, w := range warnings {
		o.logf("%s: warning: %s", d.name, w)
	}
	return nil
}

// removeLeftovers deletes ".NAME.part-*" files or folders a killed fetch of
// the same name left behind. Two fetches into one root at once are not
// supported.
func removeLeftovers(root, name string) {
	matches, _ := filepath.Glob(filepath.Join(root, "."+name+".part-*"))
	for _, m := range matches {
		os.RemoveAll(m)
	}
}

// copyFolderAtomic copies the folder src to dst through a temporary folder
// beside dst, checks it with d.check, and renames it into place.
func copyFolderAtomic(ctx context.Context, src, dst string, d *download, o *FetchOptions) (summary string, warnings []string, err error) {
	// A mirror folder given as a symbolic link is copied from its target.
	if real, err := filepath.EvalSymlinks(src); err == nil {
		src = real
	}
	root := filepath.Dir(dst)
	removeLeftovers(root, filepath.Base(dst))
	tmp, err := os.MkdirTemp(root, "."+filepath.Base(dst)+".part-*")
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	var total int64
	err = filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type().IsRegular() || de.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				total += st.Size()
			}
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	bar := o.Progress.StartBytes(filepath.Base(dst), total)
	err = filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(tmp, rel)
		switch {
		case de.IsDir():
			if rel == "." {
				return nil
			}
			return os.Mkdir(target, 0o755)
		case de.Type().IsRegular():
			return copyFile(p, target, bar)
		case de.Type()&fs.ModeSymlink != 0:
			// Links to files are copied as the files; anything else a
			// link leads to is an error, not a file silently left out.
			st, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("%s: a symbolic link that cannot be followed: %w", p, err)
			}
			if !st.Mode().IsRegular() {
				return fmt.Errorf("%s: a symbolic link to %s; links in a mirror folder must lead to regular files", p, modeName(st.Mode()))
			}
			return copyFile(p, target, bar)
		default:
			return notRegularError(p, de.Type())
		}
	})
	if err != nil {
		return "", nil, err
	}
	bar.Finish()
	if summary, warnings, err = d.check(tmp); err != nil {
		return "", nil, fmt.Errorf("%s is not a valid %s (checked on its copy %s, now removed): %w", src, d.folder, tmp, err)
	}
	if err = os.Chmod(tmp, 0o755); err != nil { // MkdirTemp made it 0700
		return "", nil, err
	}
	if err = os.Rename(tmp, dst); err != nil {
		return "", nil, err
	}
	syncDir(root)
	return summary, warnings, nil
}

func copyFile(src, dst string, bar *progress.Bar) error {
	in, _, err := openRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.MultiWriter(out, bar), in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// syncDir makes a rename in dir durable; errors are ignored (some file
// systems cannot fsync a directory, and the rename has happened).
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}
