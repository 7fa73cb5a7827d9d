package loaders

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fakeWeights replaces the published weights for a test with two files of
// known bytes: "plain-w" (a file served as is) and "packed-w" (its URL
// serves a .tar.gz holding it beside a macOS "._" fork, as ODIN's release).
func fakeWeights(t *testing.T) (plain, packed []byte) {
	plain, packed = []byte("plain weights"), []byte("packed weights")
	old := weightsFiles
	weightsFiles = []*weightsFile{
		{name: "plain-w", file: "plain.th", sha256: sha(plain), url: "https://github.com/x/raw/plain.th", arch: "resnet-cifar-56", classes: 10, source: "test"},
		{name: "packed-w", file: "packed.pth", sha256: sha(packed), url: "https://www.dropbox.com/s/x/packed.pth.tar.gz?dl=1",
			member: "packed.pth", archive: "packed.pth.tar.gz", arch: "densenet-bc-100", classes: 100, source: "test"},
	}
	t.Cleanup(func() { weightsFiles = old })
	return plain, packed
}

func packedTarGz(t *testing.T, packed []byte) []byte {
	return tarBytes(t, []entry{{"._packed.pth", []byte("fork")}, {"packed.pth", packed}}, true)
}

func TestResolveWeights(t *testing.T) {
	plain, _ := fakeWeights(t)
	root := t.TempDir()
	_, err := ResolveWeights("plain-w", "", root)
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Fetch != "plain-w" || !strings.Contains(err.Error(), "mcdood data fetch --data "+root+" plain-w") {
		t.Fatalf("missing: err = %v; want a NotFoundError naming the fetch command", err)
	}
	p := filepath.Join(root, "pretrained", "plain.th")
	writeFile(t, p, plain)
	for _, want := range []string{"", sha(plain)} {
		if got, err := ResolveWeights("plain-w", want, root); err != nil || got != p {
			t.Fatalf("present, sha256 %q asked: %q, %v", want, got, err)
		}
	}
	if _, err := ResolveWeights("plain-w", sha([]byte("other")), root); !errors.Is(err, ErrWeightsChecksum) || !strings.Contains(err.Error(), "the published file's is "+sha(plain)) {
		t.Errorf("another sha256 for a pinned name: %v", err)
	}
	w, ok := FindWeights("plain-w")
	if !ok || w.SHA256 != sha(plain) || w.File != "plain.th" || w.Arch != "resnet-cifar-56" || w.Classes != 10 {
		t.Errorf("FindWeights: %+v, %v", w, ok)
	}
	if _, ok := FindWeights("plain.th"); ok {
		t.Error("FindWeights found a file name")
	}
	// Another file under the pinned name: refused, naming file and both sums.
	writeFile(t, p, []byte("tampered"))
	_, err = ResolveWeights("plain-w", "", root)
	for _, s := range []string{p, "has sha256 " + sha([]byte("tampered")), "want " + sha(plain)} {
		if !errors.Is(err, ErrWeightsChecksum) || !strings.Contains(err.Error(), s) {
			t.Errorf("tampered: err = %v; want it to say %q", err, s)
		}
	}
	// A path: verified against the sha256 given, if one is.
	other := filepath.Join(t.TempDir(), "mine.pth")
	writeFile(t, other, []byte("my own network"))
	for _, want := range []string{"", sha([]byte("my own network"))} {
		if got, err := ResolveWeights(other, want, root); err != nil || got != other {
			t.Errorf("path, sha256 %q: %q, %v", want, got, err)
		}
	}
	if _, err := ResolveWeights(other, sha(plain), root); !errors.Is(err, ErrWeightsChecksum) || !strings.Contains(err.Error(), other) {
		t.Errorf("path with another sha256: %v", err)
	}
	if _, err := ResolveWeights("odin-densenet", "", root); err == nil || !strings.Contains(err.Error(), `unknown weights "odin-densenet" (known: plain-w, packed-w; or the path of a PyTorch file)`) {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := ResolveWeights(filepath.Join(root, "nope.pth"), "", root); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope.pth") {
		t.Errorf("missing path: %v", err)
	}
}

// From a URL: a plain file is saved as served; an archive's member is
// streamed out; a wrong sha256 or a cut download leaves nothing.
func TestFetchWeightsURL(t *testing.T) {
	plain, packed := fakeWeights(t)
	web := newFakeWeb(t)
	web.files["/x/raw/plain.th"] = plain
	web.files["/s/x/packed.pth.tar.gz"] = packedTarGz(t, packed)
	root := t.TempDir()
	var log bytes.Buffer
	for _, name := range []string{"plain-w", "packed-w"} {
		if err := Fetch(context.Background(), name, root, FetchOptions{Client: web.client(), Log: &log}); err != nil {
			t.Fatal(err)
		}
	}
	assertOnly(t, filepath.Join(root, "pretrained"), "packed.pth", "plain.th")
	if b, _ := os.ReadFile(filepath.Join(root, "pretrained", "packed.pth")); !bytes.Equal(b, packed) {
		t.Errorf("packed.pth holds %q", b)
	}
	if !strings.Contains(log.String(), "sha256 "+sha(plain)+" matches test") {
		t.Errorf("log:\n%s", log.String())
	}
	// Present: verified, not fetched again.
	n := web.requests.Load()
	log.Reset()
	if err := Fetch(context.Background(), "plain-w", root, FetchOptions{Client: web.client(), Log: &log}); err != nil || web.requests.Load() != n ||
		!strings.Contains(log.String(), "already present") {
		t.Errorf("second fetch: %v, %d requests, log %s", err, web.requests.Load()-n, log.String())
	}

	root = t.TempDir()
	web.files["/x/raw/plain.th"] = []byte("not the weights")
	err := Fetch(context.Background(), "plain-w", root, FetchOptions{Client: web.client()})
	if !errors.Is(err, ErrWeightsChecksum) || !strings.Contains(err.Error(), "want "+sha(plain)) || !strings.Contains(err.Error(), "discarded") {
		t.Errorf("wrong bytes: %v", err)
	}
	web.files["/s/x/packed.pth.tar.gz"] = packedTarGz(t, packed)[:40]
	if err := Fetch(context.Background(), "packed-w", root, FetchOptions{Client: web.client()}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("cut archive: %v", err)
	}
	assertOnly(t, filepath.Join(root, "pretrained"))
	delete(web.files, "/x/raw/plain.th")
	if err := Fetch(context.Background(), "plain-w", root, FetchOptions{Client: web.client()}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("404: %v", err)
	}
}

// From a mirror (layout pretrained/FILE): the file, or for an archived
// release the archive, whose member is extracted; never the network.
func TestFetchWeightsMirror(t *testing.T) {
	plain, packed := fakeWeights(t)
	mirror, root := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(mirror, "pretrained", "plain.th"), plain)
	writeFile(t, filepath.Join(mirror, "pretrained", "packed.pth.tar.gz"), packedTarGz(t, packed))
	for _, name := range []string{"plain-w", "packed-w"} {
		if err := Fetch(context.Background(), name, root, FetchOptions{Mirror: mirror, Client: noNetwork(t)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ResolveWeights(name, "", root); err != nil {
			t.Error(err)
		}
	}
	root = t.TempDir()
	writeFile(t, filepath.Join(mirror, "pretrained", "plain.th"), []byte("corrupt copy"))
	if err := Fetch(context.Background(), "plain-w", root, FetchOptions{Mirror: mirror, Client: noNetwork(t)}); !errors.Is(err, ErrWeightsChecksum) {
		t.Errorf("corrupt mirror copy: %v", err)
	}
	assertOnly(t, filepath.Join(root, "pretrained"))
	if err := Fetch(context.Background(), "plain-w", root, FetchOptions{Mirror: t.TempDir(), Client: noNetwork(t)}); !errors.Is(err, ErrUnavailable) ||
		!strings.Contains(err.Error(), "looked for pretrained/plain.th") {
		t.Errorf("not in mirror: %v", err)
	}
}

// The real published files from the data mirror: each fetch name gets its
// file, whose pinned sha256 (../shared/data/README.md) then resolves.
func TestFetchWeightsFromRealMirror(t *testing.T) {
	mirror := testenv.DataMirror(t)
	root := t.TempDir()
	for _, name := range WeightsNames() {
		var log bytes.Buffer
		if err := Fetch(context.Background(), name, root, FetchOptions{Mirror: mirror, Client: noNetwork(t), Log: &log}); err != nil {
			t.Fatal(err)
		}
		p, err := ResolveWeights(name, "", root)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := FindWeights(name)
		t.Logf("%s: %s, %s ×%d, sha256 %s", name, p, w.Arch, w.Classes, w.SHA256)
	}
	assertOnly(t, filepath.Join(root, "pretrained"), "densenet10.pth.tar.gz", "densenet100.pth", "resnet56-4bfd9763.th")
}
