package loaders

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Hostile and careless inputs: archive bombs, named pipes,
// symbolic links, custom paths that lead nowhere. Every fixture is generated
// in t.TempDir().

// zeroTarGz writes a .tar.gz at p whose members are each followed by n zero
// bytes (a member's data is its prefix, then the zeros), streamed through
// gzip: a few KB on disk per hundred MB of members.
func zeroTarGz(t *testing.T, p string, names []string, prefix []byte, n int64) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	zeros := make([]byte, 1<<20)
	for _, name := range names {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(prefix)) + n}); err != nil {
			t.Fatal(err)
		}
		tw.Write(prefix)
		for left := n; left > 0; left -= int64(len(zeros)) {
			if _, err := tw.Write(zeros[:min(left, int64(len(zeros)))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// allocated returns the bytes fn allocates on the heap.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// withLimits lowers archiveLimits for one test.
func withLimits(t *testing.T, members int, bytes int64) {
	saved := archiveLimits
	archiveLimits = archiveBudget{members: members, bytes: bytes}
	t.Cleanup(func() { archiveLimits = saved })
}

// An archive of zero-filled members named .png (a decompression bomb, scaled
// down: three 24 MB members) is refused at its first member, allocating
// far less than one member; before, every member was read into memory
// first. A real image followed by megabytes of zeros decodes, allocating
// about the image, not the member.
func TestArchiveBombStreams(t *testing.T) {
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.tar.gz")
	const member = 24 << 20
	zeroTarGz(t, bomb, []string{"Set/a.png", "Set/b.png", "Set/c.png"}, nil, member)
	var err error
	if n := allocated(func() { _, err = ReadImages("bomb", bomb, ImageOptions{}) }); n > member/4 {
		t.Errorf("reading the bomb allocated %d bytes, want far less than one %d-byte member", n, member)
	}
	if err == nil || !strings.Contains(err.Error(), bomb+":Set/a.png: decode: not a JPEG, PNG") {
		t.Errorf("bomb: %v", err)
	}
	// An honest image with a huge tail: read and discarded, never held.
	padded := filepath.Join(dir, "padded.tar.gz")
	zeroTarGz(t, padded, []string{"Set/a.png", "Set/b.png"}, rgbPNG(t, 40, 40, 1), member)
	var d *Dataset
	if n := allocated(func() { d, err = ReadImages("padded", padded, ImageOptions{Fit: FitCrop, Seed: 2}) }); n > member/4 {
		t.Errorf("reading padded images allocated %d bytes, want far less than one %d-byte member", n, member)
	}
	if err != nil || d.Len() != 2 {
		t.Fatalf("padded: %v, %v", d, err)
	}
}

// The uncompressed-bytes budget stops a tar at the member that passes it,
// naming the archive and the member, whatever the members' names; a zip is
// refused from its directory. The member-count budget likewise.
func TestArchiveBudgets(t *testing.T) {
	dir := t.TempDir()
	withLimits(t, 8, 1<<20)
	tgz := filepath.Join(dir, "over.tar.gz")
	zeroTarGz(t, tgz, []string{"Set/pad.bin", "Set/a.png"}, nil, 2<<20)
	want := fmt.Sprintf("archive %s: more than %d bytes uncompressed (reading past member Set/pad.bin)", tgz, 1<<20)
	if _, err := ReadImages("x", tgz, ImageOptions{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("tar over the bytes budget: %v\nwant %q", err, want)
	}
	zp := filepath.Join(dir, "over.zip")
	writeFile(t, zp, zipBytes(t, []entry{{"a.png", rgbPNG(t, 4, 4, 1)}, {"big.png", make([]byte, 2<<20)}}))
	if _, err := ReadImages("x", zp, ImageOptions{}); err == nil || !strings.Contains(err.Error(), "archive "+zp+": more than 1048576 bytes uncompressed") || !strings.Contains(err.Error(), "big.png") {
		t.Errorf("zip over the bytes budget: %v", err)
	}
	var many []entry
	for i := range 9 {
		many = append(many, entry{fmt.Sprintf("m%d.png", i), rgbPNG(t, 4, 4, byte(i))})
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"many.tar", tarBytes(t, many, false)}, {"many.tar.gz", tarBytes(t, many, true)}, {"many.zip", zipBytes(t, many)}} {
		p := filepath.Join(dir, c.name)
		writeFile(t, p, c.data)
		if _, err := ReadImages("x", p, ImageOptions{}); err == nil || !strings.Contains(err.Error(), "archive "+p+": more than 8 members") {
			t.Errorf("%s over the member budget: %v", c.name, err)
		}
	}
	// CIFAR archives are read within the same budgets.
	if _, _, err := cifar10Layout.readArchive(tgz); err == nil || !strings.Contains(err.Error(), "more than 1048576 bytes uncompressed") {
		t.Errorf("CIFAR archive over the budget: %v", err)
	}
}

// An honest archive of 10,000 members (ODIN's sets' size) reads within the
// default budgets, in name order whatever the archive order.
func TestArchiveManyMembers(t *testing.T) {
	png := rgbPNG(t, 32, 32, 7)
	const n = 10000
	var es []entry
	for i := n - 1; i >= 0; i-- {
		es = append(es, entry{fmt.Sprintf("Imagenet/test/%05d.png", i), png})
	}
	p := filepath.Join(t.TempDir(), "Imagenet.tar.gz")
	writeFile(t, p, tarBytes(t, es, true))
	d, err := ReadImages("many", p, ImageOptions{})
	if err != nil || d.Len() != n {
		t.Fatalf("%v, %v", d, err)
	}
	if d.Sources[0] != p+":Imagenet/test/00000.png" || d.Sources[n-1] != p+fmt.Sprintf(":Imagenet/test/%05d.png", n-1) {
		t.Errorf("sources %s … %s", d.Sources[0], d.Sources[n-1])
	}
}

// Crops from a tar (read out of order, the windows drawn beforehand) are
// the crops of the same images read in order from a folder or a zip.
func TestArchiveCropsMatchFolder(t *testing.T) {
	files := map[string][]byte{}
	var order []string
	for i := range 9 {
		name := fmt.Sprintf("s%d/img%d.png", i%2, 8-i)
		files[name] = rgbPNG(t, 33+7*i, 70-5*i, byte(i)) // some under 32 a side: scaled up first
		order = append(order, name)
	}
	files["s1/z.jpg"] = rgbJPEG(t, 20, 50, 3)
	order = append(order, "s1/z.jpg")
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "Set"), files)
	writeFile(t, filepath.Join(root, "Set.tar.gz"), tarBytes(t, prefixed("Set/", files, order), true))
	writeFile(t, filepath.Join(root, "Set.tar"), tarBytes(t, prefixed("", files, order), false))
	writeFile(t, filepath.Join(root, "Set.zip"), zipBytes(t, prefixed("Set/", files, order)))
	for _, fit := range Fits() {
		ref, err := ReadImages("c", filepath.Join(root, "Set"), ImageOptions{Fit: fit, Seed: 11})
		if err != nil || ref.Len() != 10 {
			t.Fatalf("%s: %v, %v", fit, ref, err)
		}
		for _, a := range []string{"Set.tar.gz", "Set.tar", "Set.zip"} {
			d, err := ReadImages("c", filepath.Join(root, a), ImageOptions{Fit: fit, Seed: 11})
			if err != nil || !bytes.Equal(d.Pixels, ref.Pixels) {
				t.Errorf("%s %s: differs from the folder (%v)", a, fit, err)
			}
		}
	}
	infos, err := InspectImages(filepath.Join(root, "Set.tar"), InspectOptions{Fit: FitCrop, Seed: 5})
	ref, err2 := InspectImages(filepath.Join(root, "Set"), InspectOptions{Fit: FitCrop, Seed: 5})
	if err != nil || err2 != nil || len(infos) != len(ref) {
		t.Fatalf("%v, %v", err, err2)
	}
	for i := range infos {
		if infos[i].HFEnergy32 != ref[i].HFEnergy32 || infos[i].Width != ref[i].Width || (infos[i].JPEG == nil) != (ref[i].JPEG == nil) {
			t.Errorf("inspect %d: %+v, folder %+v", i, infos[i], ref[i])
		}
	}
}

// within fails the test when fn does not return within 2 s (a named pipe
// opened for reading blocks until a writer comes).
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Second):
		t.Fatalf("%s: still blocked after 2 s", what)
		return nil
	}
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := makeFIFO(p); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// A named pipe is never opened: as an image in a folder, as an archive, as
// a custom set's path, as a CIFAR or Tiny ImageNet file. Each is an error
// naming it.
func TestNamedPipesAreRefused(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "mine"), map[string][]byte{"s/a.png": rgbPNG(t, 32, 32, 1)})
	mkfifo(t, filepath.Join(root, "mine", "s", "b.png"))
	mkfifo(t, filepath.Join(root, "pipe.tar.gz"))
	writeFiles(t, filepath.Join(root, "cifar-10-batches-bin"), cifar10Files(2, 3))
	os.Remove(filepath.Join(root, "cifar-10-batches-bin", "data_batch_3.bin"))
	mkfifo(t, filepath.Join(root, "cifar-10-batches-bin", "data_batch_3.bin"))
	mkfifo(t, filepath.Join(root, "tiny-imagenet-200", "test", "images", "test_0.JPEG"))
	pipe := "a named pipe (FIFO), not a regular file or a folder"
	for _, c := range []struct {
		what string
		read func() error
		want string
	}{
		{"folder image", func() error { _, err := ReadImages("x", filepath.Join(root, "mine"), ImageOptions{}); return err }, filepath.Join(root, "mine", "s", "b.png") + ": " + pipe},
		{"archive", func() error {
			_, err := ReadImages("x", filepath.Join(root, "pipe.tar.gz"), ImageOptions{})
			return err
		}, filepath.Join(root, "pipe.tar.gz") + ": " + pipe},
		{"custom path", func() error {
			_, err := Open("mine", root, Options{Custom: []Custom{{Name: "mine", Path: "pipe.tar.gz", Fit: FitResize}}})
			return err
		}, `custom OOD set "mine": ` + filepath.Join(root, "pipe.tar.gz") + ": " + pipe},
		{"inspect", func() error {
			_, err := InspectImages(filepath.Join(root, "pipe.tar.gz"), InspectOptions{})
			return err
		}, pipe},
		{"CIFAR folder", func() error { _, _, err := CIFAR10(root); return err }, filepath.Join(root, "cifar-10-batches-bin", "data_batch_3.bin") + ": " + pipe},
		{"Tiny ImageNet", func() error {
			_, err := TinyImageNet(filepath.Join(root, "tiny-imagenet-200"), []Fit{FitResize}, 0, nil)
			return err
		}, "test_0.JPEG: " + pipe},
	} {
		err := within(t, c.what, c.read)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %q", c.what, err, c.want)
		}
	}
}

// A custom set whose path leads nowhere is an error naming the path, with
// no fetch advice (it is not a *NotFoundError); one that holds no images
// likewise.
func TestCustomPathErrors(t *testing.T) {
	root := t.TempDir()
	os.Symlink("loop-b", filepath.Join(root, "loop-a"))
	os.Symlink("loop-a", filepath.Join(root, "loop-b"))
	os.Symlink("gone", filepath.Join(root, "dangling"))
	writeFiles(t, filepath.Join(root, "empty"), map[string][]byte{"a/readme.txt": nil})
	for _, c := range []struct{ path, want string }{
		{"mistyped", filepath.Join(root, "mistyped") + ": no such folder or file"},
		{"loop-a", filepath.Join(root, "loop-a") + ": a loop of symbolic links"},
		{"dangling", filepath.Join(root, "dangling") + ": a symbolic link to gone, which does not exist"},
		{"empty", filepath.Join(root, "empty") + ": no images"},
		{filepath.Join(root, "abs-missing"), filepath.Join(root, "abs-missing") + ": no such folder or file"},
	} {
		opts := Options{Custom: []Custom{{Name: "mine", Path: c.path, Fit: FitResize}}}
		_, err := Open("mine", root, opts)
		if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "fetch") {
			t.Errorf("%s: %v\nwant %q and no fetch advice", c.path, err, c.want)
		}
		reports, err := Check(root, opts)
		if err != nil {
			t.Fatal(err)
		}
		if r := reports[len(reports)-1]; r.Name != "mine" || r.Status != Broken || r.Fetch != "" {
			t.Errorf("%s: check reports %+v", c.path, r)
		}
	}
}

// A custom set given as a symbolic link to a folder is read (its sources
// keep the link's path); image links inside that lead nowhere, and links
// to folders, are counted in Warnings with an example.
func TestSymlinkedFolders(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(t.TempDir(), "real")
	writeFiles(t, real, map[string][]byte{"s/a.png": rgbPNG(t, 32, 32, 1), "s/b.png": rgbPNG(t, 32, 32, 2), "t/c.png": rgbPNG(t, 32, 32, 3)})
	link := filepath.Join(root, "mine")
	if err := os.Symlink(real, link); err != nil {
		t.Skip(err)
	}
	os.Symlink("nowhere.png", filepath.Join(real, "s", "gone.png"))
	os.Symlink("loop.png", filepath.Join(real, "s", "loop.png"))
	os.Symlink(filepath.Join(real, "s", "a.png"), filepath.Join(real, "t", "linked.png"))
	os.Symlink(filepath.Join(real, "t"), filepath.Join(real, "s", "more"))
	d, err := Open("mine", root, Options{Custom: []Custom{{Name: "mine", Path: "mine", Fit: FitResize}}})
	if err != nil || d.Len() != 4 {
		t.Fatalf("%v, %v", d, err)
	}
	if d.Sources[0] != filepath.Join(link, "s", "a.png") || d.Sources[3] != filepath.Join(link, "t", "linked.png") {
		t.Errorf("sources %q", d.Sources)
	}
	if !bytes.Equal(d.Image(0), d.Image(3)) {
		t.Error("the image link does not read its target")
	}
	want := []string{
		"2 image links skipped: the target is missing or a link loop (e.g. " + filepath.Join(link, "s", "gone.png") + ")",
		"1 link to folders not followed, as the MCD authors' loader (os.walk) does not (e.g. " + filepath.Join(link, "s", "more") + ")",
	}
	if strings.Join(d.Warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings %q\nwant %q", d.Warnings, want)
	}
	reports, err := Check(root, Options{Custom: []Custom{{Name: "mine", Path: "mine", Fit: FitResize}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := reports[len(reports)-1]; r.Status != Ready || r.Test != 4 || !strings.Contains(strings.Join(r.Warnings, "\n"), want[0]) {
		t.Errorf("check: %+v", r)
	}
}

// A mirror folder that is a symbolic link is copied from its target; links
// to files inside it are copied as files, and a dangling one is an error
// naming it.
func TestFetchMirrorSymlinkedFolder(t *testing.T) {
	mirror, root := t.TempDir(), t.TempDir()
	real := filepath.Join(t.TempDir(), "iSUN-real")
	writeFiles(t, real, map[string][]byte{"iSUN_patches/a.jpeg": rgbJPEG(t, 36, 36, 1)})
	os.Symlink(filepath.Join(real, "iSUN_patches", "a.jpeg"), filepath.Join(real, "iSUN_patches", "b.jpeg"))
	if err := os.Symlink(real, filepath.Join(mirror, "iSUN")); err != nil {
		t.Skip(err)
	}
	var log bytes.Buffer
	if err := Fetch(t.Context(), "isun", root, FetchOptions{Mirror: mirror, Log: &log}); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	d, err := ReadImages("isun", filepath.Join(root, "iSUN"), ImageOptions{})
	if err != nil || d.Len() != 2 {
		t.Fatalf("%v, %v", d, err)
	}
	if st, err := os.Lstat(filepath.Join(root, "iSUN", "iSUN_patches", "b.jpeg")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("the linked file was not copied as a file: %v", err)
	}
	os.Symlink("missing.jpeg", filepath.Join(real, "iSUN_patches", "c.jpeg"))
	root2 := t.TempDir()
	err = Fetch(t.Context(), "isun", root2, FetchOptions{Mirror: mirror})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(real, "iSUN_patches", "c.jpeg")+": a symbolic link that cannot be followed") {
		t.Errorf("dangling link in the mirror: %v", err)
	}
}

// A tar that changes between the listing pass and the reading pass is an
// error, not images from two archives.
func TestArchiveChangedBetweenPasses(t *testing.T) {
	first := tarBytes(t, []entry{{"a.png", rgbPNG(t, 4, 4, 1)}, {"b.png", rgbPNG(t, 4, 4, 2)}}, false)
	a, err := newImageArchive("x.tar", bytes.NewReader(first), int64(len(first)), nil)
	if err != nil {
		t.Fatal(err)
	}
	second := tarBytes(t, []entry{{"a.png", rgbPNG(t, 4, 4, 1)}, {"c.png", rgbPNG(t, 4, 4, 2)}}, false)
	a.ra, a.size = bytes.NewReader(second), int64(len(second))
	err = a.read([]int{0, 1}, func(int, io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "archive x.tar changed while it was read") {
		t.Errorf("%v", err)
	}
}

// A done context (SIGTERM to the process) stops reading between images, in
// a folder and in an archive, with the context's error.
func TestReadingStopsOnCancel(t *testing.T) {
	png := rgbPNG(t, 32, 32, 7)
	dir := t.TempDir()
	var es []entry
	files := map[string][]byte{}
	for i := 0; i < 50; i++ {
		name := fmt.Sprintf("%02d.png", i)
		es = append(es, entry{"set/" + name, png})
		files[name] = png
	}
	writeFiles(t, filepath.Join(dir, "folder"), files)
	archive := filepath.Join(dir, "set.tar.gz")
	writeFile(t, archive, tarBytes(t, es, true))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, p := range []string{filepath.Join(dir, "folder"), archive} {
		if _, err := ReadImages("x", p, ImageOptions{Context: ctx}); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", p, err)
		}
		if d, err := ReadImages("x", p, ImageOptions{}); err != nil || d.Len() != 50 {
			t.Errorf("%s without a context: %v", p, err)
		}
	}
}
