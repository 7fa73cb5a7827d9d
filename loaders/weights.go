package loaders

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Published weights. The networks the papers scored are files their
// authors released; "mcdood data fetch NAME" puts one under
// DATA/pretrained/, and ResolveWeights finds it there for a plan's
// `weights = "NAME"`. Every file's sha256 is pinned here (measured on the
// authors' releases, ../shared/data/README.md): a copy that differs is
// refused, by Fetch before it is renamed into place and by ResolveWeights
// before anything reads it. Files are kept as released; package torchfile
// reads them, a .tar.gz in place.
//
// ODIN's CIFAR-100 DenseNet is released as densenet100.pth.tar.gz, whose
// sha256 is not known here, holding densenet100.pth, whose sha256 is (the
// Mahalanobis paper's densenet_cifar100.pth is the same file). So that name
// keeps the inner file: a fetch from the URL, or from a mirror that holds the
// archive, streams the member densenet100.pth out of it into
// DATA/pretrained/densenet100.pth and pins that. ODIN's CIFAR-10 archive's
// own sha256 is known, and it is kept whole (torchfile reads it in place);
// an extracted densenet10.pth (sha256
// 3211ffc3f6107d0605b5914d58fd352318b7af6464e99eb875b88e5c38fdcb31) is a
// path with its own sha256, not the name. One name is one file, so a model
// keyed by the pinned sha256 is keyed by the bytes it was read from.

// PretrainedDir is the folder of published weights under a data root (and
// in a mirror).
const PretrainedDir = "pretrained"

// weightsFile is a published network's weights file.
type weightsFile struct {
	name   string // fetch and plan name
	file   string // under DATA/pretrained and the mirror's pretrained/
	sha256 string // of file
	url    string // official location
	// member, when set, says the URL (and possibly the mirror, as
	// archive) serves a .tar.gz whose member of that name is file.
	member  string
	archive string
	arch    string // the network, a nets architecture name
	classes int
	source  string // who released it, for messages
}

var weightsFiles = []*weightsFile{
	// ODIN (Liang et al., ICLR 2018), github.com/facebookresearch/odin README:
	// DenseNet-BC (L = 100, k = 12), CIFAR-10, test error 4.81%.
	{name: "odin-densenet10", file: "densenet10.pth.tar.gz",
		sha256: "b5dcb42b3bc725deb4aaeb574255ead1380ecbea3e3720d8b9e17181a82f353d",
		url:    "https://www.dropbox.com/s/wr4kjintq1tmorr/densenet10.pth.tar.gz?dl=1",
		arch:   "densenet-bc-100", classes: 10, source: "ODIN's release (facebookresearch/odin)"},
	// The same architecture on CIFAR-100, test error 22.37%.
	{name: "odin-densenet100", file: "densenet100.pth",
		sha256: "cc65b9aa2b58a73ea50280eb5db875341c7300ef29aed6b56fc140f3e2c66d25",
		url:    "https://www.dropbox.com/s/vxuv11jjg8bw2v9/densenet100.pth.tar.gz?dl=1",
		member: "densenet100.pth", archive: "densenet100.pth.tar.gz",
		arch: "densenet-bc-100", classes: 100, source: "ODIN's release (facebookresearch/odin)"},
	// akamaster/pytorch_resnet_cifar10: ResNet-56 (He et al., CVPR 2016,
	// option A), CIFAR-10, best_prec1 93.62.
	{name: "resnet56-cifar10", file: "resnet56-4bfd9763.th",
		sha256: "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367",
		url:    "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/resnet56-4bfd9763.th",
		arch:   "resnet-cifar-56", classes: 10, source: "akamaster/pytorch_resnet_cifar10"},
}

func findWeights(name string) *weightsFile {
	for _, w := range weightsFiles {
		if w.name == name {
			return w
		}
	}
	return nil
}

// WeightsNames lists the published weights ResolveWeights and Fetch know.
func WeightsNames() []string {
	out := make([]string, len(weightsFiles))
	for i, w := range weightsFiles {
		out[i] = w.name
	}
	return out
}

// Weights is a published network's weights file, as FindWeights gives it.
type Weights struct {
	Name   string // the published name ("odin-densenet10")
	File   string // its file under DATA/pretrained (and a mirror's pretrained/)
	SHA256 string // the pinned sha256 of File
	// Arch and Classes are the network the file holds: a nets architecture
	// name (nets.ParseSpec) and the number of classes.
	Arch    string
	Classes int
	URL     string // the official location
	Source  string // who released it
}

// FindWeights returns the published weights called name, without looking
// at the disk.
func FindWeights(name string) (Weights, bool) {
	w := findWeights(name)
	if w == nil {
		return Weights{}, false
	}
	return Weights{Name: w.name, File: w.file, SHA256: w.sha256, Arch: w.arch, Classes: w.classes, URL: w.url, Source: w.source}, true
}

// ErrWeightsChecksum is matched by errors for a weights file whose sha256
// is not the expected one.
var ErrWeightsChecksum = errors.New("weights file has the wrong sha256")

// ResolveWeights returns the file of weights nameOrPath under the data root
// root, verified. nameOrPath is a published name (WeightsNames), whose file
// is root/pretrained/FILE with its pinned sha256, or else the path of a file
// (absolute, or relative to the working directory). wantSHA256, when not
// empty, is the sha256 the file must have (for a name it must be the pinned
// one); a path without one is not verified. A missing published file is a
// *NotFoundError naming the fetch command (errors.Is ErrNotFound); a file
// whose sha256 differs is an error naming the file, the expected and the
// actual sha256 (ErrWeightsChecksum).
func ResolveWeights(nameOrPath, wantSHA256, root string) (string, error) {
	if w := findWeights(nameOrPath); w != nil {
		if wantSHA256 != "" && wantSHA256 != w.sha256 {
			return "", fmt.Errorf("%s: sha256 %s asked for, but the published file's is %s: %w", w.name, wantSHA256, w.sha256, ErrWeightsChecksum)
		}
		p := filepath.Join(root, PretrainedDir, w.file)
		if _, err := os.Stat(p); err != nil {
			return "", &NotFoundError{Name: w.name, Root: root, Looked: []string{p}, Fetch: w.name}
		}
		if err := verifySHA256(p, w.sha256); err != nil {
			return "", fmt.Errorf("%s: %w", w.name, err)
		}
		return p, nil
	}
	st, err := os.Stat(nameOrPath)
	switch {
	case err != nil && !strings.ContainsAny(nameOrPath, `/\.`):
		return "", fmt.Errorf("unknown weights %q (known: %s; or the path of a PyTorch file)", nameOrPath, strings.Join(WeightsNames(), ", "))
	case err != nil:
		return "", &NotFoundError{Name: "weights " + nameOrPath, Root: filepath.Dir(nameOrPath), Looked: []string{nameOrPath}}
	case !st.Mode().IsRegular():
		return "", fmt.Errorf("weights %s: not a regular file", nameOrPath)
	}
	if wantSHA256 != "" {
		if err := verifySHA256(nameOrPath, wantSHA256); err != nil {
			return "", fmt.Errorf("weights: %w", err)
		}
	}
	return nameOrPath, nil
}

func fileSHA256(p string) (string, error) {
	f, _, err := openRegular(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verifySHA256 checks that the file at p has sha256 want.
func verifySHA256(p, want string) error {
	got, err := fileSHA256(p)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s has sha256 %s, want %s: %w", p, got, want, ErrWeightsChecksum)
	}
	return nil
}

// fetchWeights puts w under root/pretrained from the mirror or its URL; a
// file already there is verified, never replaced.
func fetchWeights(ctx context.Context, w *weightsFile, root string, o *FetchOptions) error {
	if p, err := ResolveWeights(w.name, "", root); err == nil {
		o.logf("%s: already present at %s (sha256 %s verified)", w.name, p, w.sha256)
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if o.Mirror != "" {
		return fetchWeightsFromMirror(ctx, w, root, o)
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", w.name, err)
	}
	o.logf("%s: downloading %s → %s", w.name, w.url, filepath.Join(root, PretrainedDir, w.file))
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", w.name, ctx.Err())
		}
		return fmt.Errorf("%s: %w: %w", w.name, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %w: GET %s: HTTP %s", w.name, ErrUnavailable, w.url, resp.Status)
	}
	if w.member != "" {
		return saveWeightsMember(resp.Body, w.url, w, root, o)
	}
	return saveWeights(resp.Body, resp.ContentLength, w.url, w, root, o)
}

func fetchWeightsFromMirror(ctx context.Context, w *weightsFile, root string, o *FetchOptions) error {
	dir := filepath.Join(o.Mirror, PretrainedDir)
	open := func(name string) (*os.File, int64, bool) {
		f, size, err := openRegular(filepath.Join(dir, name))
		if err != nil {
			return nil, 0, false
		}
		return f, size, true
	}
	if f, n, ok := open(w.file); ok {
		defer f.Close()
		o.logf("%s: copying %s → %s", w.name, f.Name(), filepath.Join(root, PretrainedDir, w.file))
		return saveWeights(ctxReader{ctx, f}, n, f.Name(), w, root, o)
	}
	if w.archive != "" {
		if f, _, ok := open(w.archive); ok {
			defer f.Close()
			o.logf("%s: extracting %s from %s → %s", w.name, w.member, f.Name(), filepath.Join(root, PretrainedDir, w.file))
			return saveWeightsMember(ctxReader{ctx, f}, f.Name(), w, root, o)
		}
	}
	looked := filepath.Join(PretrainedDir, w.file)
	if w.archive != "" {
		looked += " and " + filepath.Join(PretrainedDir, w.archive)
	}
	return fmt.Errorf("%s: %w: not in mirror %s (looked for %s)", w.name, ErrUnavailable, o.Mirror, looked)
}

// saveWeightsMember streams member w.member of the .tar.gz r into place
// (skipping macOS "._" forks).
func saveWeightsMember(r io.Reader, from string, w *weightsFile, root string, o *FetchOptions) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("%s: %s is not a .tar.gz: %w", w.name, from, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("%s: %s holds no %s", w.name, from, w.member)
		}
		if err != nil {
			return fmt.Errorf("%s: %s (truncated or damaged): %w", w.name, from, err)
		}
		if h.Typeflag == tar.TypeReg && path.Base(h.Name) == w.member {
			return saveWeights(tr, h.Size, from+" ("+h.Name+")", w, root, o)
		}
	}
}

// saveWeights streams r (n bytes, or −1 if unknown) into a temporary file
// in root/pretrained, checks its sha256 against the pinned one and renames
// it to w.file.
func saveWeights(r io.Reader, n int64, from string, w *weightsFile, root string, o *FetchOptions) (err error) {
	dir := filepath.Join(root, PretrainedDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", w.name, err)
	}
	removeLeftovers(dir, w.file)
	tmp, err := os.CreateTemp(dir, "."+w.file+".part-*")
	if err != nil {
		return fmt.Errorf("%s: %w", w.name, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	bar := o.Progress.StartBytes(w.file, n)
	got, err := io.Copy(io.MultiWriter(tmp, h, bar), r)
	if err == nil && n >= 0 && got != n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("%s: %s interrupted after %d bytes; nothing was kept: %w", w.name, from, got, err)
	}
	bar.Finish()
	if sum := hex.EncodeToString(h.Sum(nil)); sum != w.sha256 {
		return fmt.Errorf("%s: %s has sha256 %s, want %s (%s); the file was discarded: %w", w.name, from, sum, w.sha256, w.source, ErrWeightsChecksum)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("%s: %w", w.name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("%s: %w", w.name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", w.name, err)
	}
	final := filepath.Join(dir, w.file)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("%s: %w", w.name, err)
	}
	syncDir(dir)
	o.logf("%s: saved %s (sha256 %s matches %s)", w.name, final, w.sha256, w.source)
	return nil
}
