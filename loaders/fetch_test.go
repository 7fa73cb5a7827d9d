package loaders

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcdood/mcdood/internal/testenv"
)

// fakeWeb serves fixture bytes by URL path on loopback; its client rewrites
// every request (cs.toronto.edu, dropbox.com …) to the test server, so
// Fetch runs with its real URLs and never touches the network.
type fakeWeb struct {
	srv      *httptest.Server
	files    map[string][]byte // path → body
	handlers map[string]http.HandlerFunc
	requests atomic.Int64
}

func newFakeWeb(t *testing.T) *fakeWeb {
	w := &fakeWeb{files: map[string][]byte{}, handlers: map[string]http.HandlerFunc{}}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Add(1)
		if h, ok := w.handlers[r.URL.Path]; ok {
			h(rw, r)
			return
		}
		body, ok := w.files[r.URL.Path]
		if !ok {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		rw.Write(body)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

type rewriteTransport struct{ base *url.URL }

func (rt rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rt.base.Scheme, rt.base.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

func (w *fakeWeb) client() *http.Client {
	u, _ := url.Parse(w.srv.URL)
	return &http.Client{Transport: rewriteTransport{u}}
}

// noNetwork is a client that fails the test if used.
func noNetwork(t *testing.T) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("unexpected request %s", r.URL)
		return nil, errors.New("no network in this test")
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// assertOnly fails unless dir holds exactly the names given (no leftovers).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func cifar10TarGz(t *testing.T, per, nTest int) []byte {
	files := cifar10Files(per, nTest)
	order := []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}
	return tarBytes(t, prefixed("cifar-10-batches-bin/", files, order), true)
}

func odinTarGz(t *testing.T, base string, n int) []byte {
	dir := t.TempDir()
	odinFixture(t, dir, base, n, true)
	b, err := os.ReadFile(filepath.Join(dir, base+".tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFetchGoodMD5 downloads an archive whose md5 matches, checks it and
// renames it into place.
func TestFetchGoodMD5(t *testing.T) {
	web := newFakeWeb(t)
	body := cifar10TarGz(t, 2, 3)
	web.files["/c10.tar.gz"] = body
	sum := md5.Sum(body)
	d := *findDownload("cifar10")
	d.url = "https://www.cs.toronto.edu/c10.tar.gz"
	d.md5 = hex.EncodeToString(sum[:])
	root := t.TempDir()
	var log bytes.Buffer
	if err := fetchOne(context.Background(), &d, root, &FetchOptions{Client: web.client(), Log: &log}); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, root, "cifar-10-binary.tar.gz")
	if st, err := os.Stat(filepath.Join(root, "cifar-10-binary.tar.gz")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("download mode %v (%v), want 0644", st.Mode(), err)
	}
	train, test, err := CIFAR10(root)
	if err != nil || train.Len() != 10 || test.Len() != 3 {
		t.Fatalf("after fetch: %v", err)
	}
	for _, w := range []string{"md5 " + d.md5 + " matches the published checksum", "saved", "10 training + 3 test images", "warning: cifar10/train has 10 images; the official release has 50000"} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log does not mention %q:\n%s", w, log.String())
		}
	}
}

// TestFetchBadMD5: the real cifar10 entry, served bytes that are not the
// official archive: an error, and nothing left in the root.
func TestFetchBadMD5(t *testing.T) {
	web := newFakeWeb(t)
	web.files["/~kriz/cifar-10-binary.tar.gz"] = cifar10TarGz(t, 1, 1)
	root := t.TempDir()
	err := Fetch(context.Background(), "cifar10", root, FetchOptions{Client: web.client()})
	if err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("error %v", err)
	}
	for _, w := range []string{"md5 of https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz is", "want c32a1d4ab5d03f1284b67883e8d87530", "discarded"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	assertOnly(t, root)
}

// TestFetchODINArchive: no checksum is published, so the sha256 is printed
// and the structure checked.
func TestFetchODINArchive(t *testing.T) {
	web := newFakeWeb(t)
	body := odinTarGz(t, "iSUN", 4)
	web.files["/s/ssz7qxfqae0cca5/iSUN.tar.gz"] = body
	root := t.TempDir()
	// A leftover of a killed fetch is cleaned up.
	writeFile(t, filepath.Join(root, ".iSUN.tar.gz.part-123"), []byte("half"))
	var log bytes.Buffer
	if err := Fetch(context.Background(), "isun", root, FetchOptions{Client: web.client(), Log: &log}); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, root, "iSUN.tar.gz")
	sha := sha256.Sum256(body)
	for _, w := range []string{"no checksum is published for iSUN.tar.gz", hex.EncodeToString(sha[:]), "4 images decode", "warning: 4 images; ODIN's set has 8925"} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log does not mention %q:\n%s", w, log.String())
		}
	}
	d, err := Open("isun", root, Options{})
	if err != nil || d.Len() != 4 {
		t.Fatalf("Open after fetch: %v", err)
	}
}

func TestFetchInterrupted(t *testing.T) {
	web := newFakeWeb(t)
	body := odinTarGz(t, "LSUN", 30)
	web.handlers["/s/fhtsw1m3qxlwj6h/LSUN.tar.gz"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	root := t.TempDir()
	err := Fetch(context.Background(), "lsun-crop", root, FetchOptions{Client: web.client()})
	if err == nil || !strings.Contains(err.Error(), "interrupted after") || !strings.Contains(err.Error(), "nothing was kept") {
		t.Fatalf("error %v", err)
	}
	assertOnly(t, root)
}

func TestFetchNotAnArchive(t *testing.T) {
	web := newFakeWeb(t)
	web.files["/s/moqh2wh8696c3yl/LSUN_resize.tar.gz"] = []byte("<html>This link has expired</html>")
	root := t.TempDir()
	err := Fetch(context.Background(), "lsun-resize", root, FetchOptions{Client: web.client()})
	if err == nil || !strings.Contains(err.Error(), "is not a valid LSUN_resize.tar.gz") {
		t.Fatalf("error %v", err)
	}
	assertOnly(t, root)
}

func TestFetchUnavailable(t *testing.T) {
	web := newFakeWeb(t) // serves nothing: 404
	root := t.TempDir()
	err := Fetch(context.Background(), "cifar100", root, FetchOptions{Client: web.client()})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(closed.URL)
	closed.Close()
	err = Fetch(context.Background(), "cifar100", root, FetchOptions{Client: &http.Client{Transport: rewriteTransport{u}}})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("connection refused: %v", err)
	}
	assertOnly(t, root)
}

func TestFetchCancelled(t *testing.T) {
	web := newFakeWeb(t)
	body := odinTarGz(t, "iSUN", 10)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	web.handlers["/s/ssz7qxfqae0cca5/iSUN.tar.gz"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:100])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	root := t.TempDir()
	err := Fetch(ctx, "isun", root, FetchOptions{Client: web.client()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	assertOnly(t, root)
}

func TestFetchAlreadyPresent(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "cifar-10-batches-bin"), cifar10Files(1, 1))
	var log bytes.Buffer
	if err := Fetch(context.Background(), "cifar10", root, FetchOptions{Client: noNetwork(t), Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "already present") {
		t.Errorf("log %q", log.String())
	}
}

func TestFetchMirrorFolder(t *testing.T) {
	mirror, root := t.TempDir(), t.TempDir()
	files := cifar10Files(3, 2)
	writeFiles(t, filepath.Join(mirror, "cifar-10-batches-bin"), files)
	writeFile(t, filepath.Join(mirror, "cifar-10-batches-bin", "batches.meta.txt"), []byte("airplane\n"))
	var log bytes.Buffer
	if err := Fetch(context.Background(), "cifar10", root, FetchOptions{Mirror: mirror, Client: noNetwork(t), Log: &log}); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, root, "cifar-10-batches-bin")
	if st, err := os.Stat(filepath.Join(root, "cifar-10-batches-bin")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("copied folder mode %v (%v), want 0755", st.Mode(), err)
	}
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(root, "cifar-10-batches-bin", name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s not copied exactly (%v)", name, err)
		}
	}
	for _, w := range []string{"md5 does not apply", "checked the structure instead", "15 training + 2 test images", "warning:"} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log does not mention %q:\n%s", w, log.String())
		}
	}
}

func TestFetchMirrorCorrupt(t *testing.T) {
	mirror, root := t.TempDir(), t.TempDir()
	files := cifar10Files(3, 2)
	files["data_batch_4.bin"] = files["data_batch_4.bin"][:5000]
	writeFiles(t, filepath.Join(mirror, "cifar-10-batches-bin"), files)
	err := Fetch(context.Background(), "cifar10", root, FetchOptions{Mirror: mirror})
	if err == nil || !strings.Contains(err.Error(), "data_batch_4.bin: record 1 at byte offset 3073 is truncated") {
		t.Fatalf("error %v", err)
	}
	assertOnly(t, root) // the temporary folder is gone too
}

func TestFetchMirrorMissing(t *testing.T) {
	mirror, root := t.TempDir(), t.TempDir()
	err := Fetch(context.Background(), "lsun-crop", root, FetchOptions{Mirror: mirror, Client: noNetwork(t)})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "not in mirror "+mirror) {
		t.Fatalf("error %v", err)
	}
}

func TestFetchMirrorArchive(t *testing.T) {
	mirror, root := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(mirror, "iSUN.tar.gz"), odinTarGz(t, "iSUN", 3))
	writeFile(t, filepath.Join(mirror, "cifar-10-binary.tar.gz"), cifar10TarGz(t, 1, 1)) // not the official bytes
	var log bytes.Buffer
	if err := Fetch(context.Background(), "isun", root, FetchOptions{Mirror: mirror, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "sha256") {
		t.Errorf("log %q", log.String())
	}
	err := Fetch(context.Background(), "cifar10", root, FetchOptions{Mirror: mirror})
	if err == nil || !strings.Contains(err.Error(), "md5 of "+filepath.Join(mirror, "cifar-10-binary.tar.gz")) {
		t.Fatalf("error %v", err)
	}
	assertOnly(t, root, "iSUN.tar.gz")
}

// TestFetchTinyDerivation: the mirror has Tiny ImageNet but not ODIN's
// Imagenet archive, so fetching tinyimagenet-crop copies Tiny ImageNet and
// the set is derived from it.
func TestFetchTinyDerivation(t *testing.T) {
	mirror, root := t.TempDir(), t.TempDir()
	writeFiles(t, mirror, tinyFiles(t))
	var log bytes.Buffer
	opts := FetchOptions{Mirror: mirror, Client: noNetwork(t), Log: &log}
	if err := Fetch(context.Background(), "tinyimagenet-crop", root, opts); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, root, "tiny-imagenet-200")
	if !strings.Contains(log.String(), "fetching Tiny ImageNet to derive it (odin-crop: seeded 32×32 crops, JPEG quality 75)") {
		t.Errorf("log:\n%s", log.String())
	}
	log.Reset()
	if err := Fetch(context.Background(), "tinyimagenet-resize", root, opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "using the derivation from "+filepath.Join(root, "tiny-imagenet-200")) {
		t.Errorf("log:\n%s", log.String())
	}
	for _, name := range []string{"tinyimagenet-crop", "tinyimagenet-resize"} {
		if d, err := Open(name, root, Options{}); err != nil || d.Len() != 5 {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Without Tiny ImageNet anywhere, the error says both were tried.
	err := Fetch(context.Background(), "tinyimagenet-crop", t.TempDir(), FetchOptions{Mirror: t.TempDir()})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "Imagenet.tar.gz") || !strings.Contains(err.Error(), "tiny-imagenet-200.zip") {
		t.Errorf("error %v", err)
	}
}

func TestFetchAllAndUnknown(t *testing.T) {
	mirror, root := t.TempDir(), t.TempDir()
	writeFiles(t, filepath.Join(mirror, "cifar-10-batches-bin"), cifar10Files(1, 1))
	err := Fetch(context.Background(), "all", root, FetchOptions{Mirror: mirror})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("error %v", err)
	}
	if _, _, err := CIFAR10(root); err != nil {
		t.Errorf("cifar10 not fetched by all: %v", err)
	}
	err = Fetch(context.Background(), "svhn", root, FetchOptions{})
	if err == nil || !strings.Contains(err.Error(), "known: cifar10, cifar100, tinyimagenet, tinyimagenet-crop") {
		t.Errorf("error %v", err)
	}
}

// TestFetchFromRealMirror copies CIFAR-10 from the data mirror and checks
// that its structure passes with the official counts (no warnings).
func TestFetchFromRealMirror(t *testing.T) {
	mirror := testenv.DataMirror(t)
	testenv.Long(t)
	root := t.TempDir()
	var log bytes.Buffer
	if err := Fetch(context.Background(), "cifar10", root, FetchOptions{Mirror: mirror, Client: noNetwork(t), Log: &log}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "warning") || !strings.Contains(log.String(), "50000 training + 10000 test images") {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestFetchMirrorCancelled(t *testing.T) {
	mirror, root := t.TempDir(), t.TempDir()
	writeFiles(t, filepath.Join(mirror, "cifar-10-batches-bin"), cifar10Files(1, 1))
	writeFile(t, filepath.Join(mirror, "iSUN.tar.gz"), odinTarGz(t, "iSUN", 2))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, name := range []string{"cifar10", "isun"} {
		if err := Fetch(ctx, name, root, FetchOptions{Mirror: mirror}); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: error %v", name, err)
		}
	}
	assertOnly(t, root)
}
