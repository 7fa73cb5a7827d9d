package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
	"github.com/mcdood/mcdood/loaders"
)

// writeCIFAR10 writes a CIFAR-10 folder with per records in each of the six
// files (1 label byte + 3,072 pixel bytes each).
func writeCIFAR10(t *testing.T, root string, per int) {
	t.Helper()
	dir := filepath.Join(root, "cifar-10-batches-bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		var b []byte
		for r := 0; r < per; r++ {
			b = append(b, byte(r%10))
			b = append(b, bytes.Repeat([]byte{byte(r)}, 3072)...)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeBrokenISUN writes iSUN.tar.gz holding one file that is not an image.
func writeBrokenISUN(t *testing.T, root string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	data := []byte("not a jpeg")
	tw.WriteHeader(&tar.Header{Name: "iSUN/iSUN_patches/a.jpeg", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	zw.Close()
	if err := os.WriteFile(filepath.Join(root, "iSUN.tar.gz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDataCheck(t *testing.T) {
	root := t.TempDir()
	writeCIFAR10(t, root, 2)
	code, out, errOut := runCLI(t, nil, "data", "check", "--data", root)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, w := range []string{
		"data root: " + root,
		"cifar10", "cifar-10-batches-bin", "ok, 3 warning(s)",
		"cifar10: warning: cifar10/train has 10 images; the official release has 50000",
		"missing: cifar100, tinyimagenet-crop, tinyimagenet-crop-fix, tinyimagenet-resize, tinyimagenet-resize-fix, lsun-crop, lsun-resize, isun; " +
			"get them with: mcdood data fetch --data " + root + " cifar100 tinyimagenet-crop tinyimagenet tinyimagenet-resize lsun-crop lsun-resize isun\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout does not mention %q:\n%s", w, out)
		}
	}
}

func TestDataCheckCorrupt(t *testing.T) {
	root := t.TempDir()
	writeCIFAR10(t, root, 1)
	writeBrokenISUN(t, root)
	code, out, errOut := runCLI(t, nil, "data", "check", "--data", root)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "│ broken") {
		t.Errorf("stdout:\n%s", out)
	}
	for _, w := range []string{"isun: " + filepath.Join(root, "iSUN.tar.gz") + ":iSUN/iSUN_patches/a.jpeg: decode", "mcdood data: corrupt: isun"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr does not mention %q:\n%s", w, errOut)
		}
	}
}

func TestDataRootResolution(t *testing.T) {
	env, flagRoot := t.TempDir(), t.TempDir()
	code, out, _ := runCLI(t, map[string]string{"MCDOOD_DATA": env}, "data", "check")
	if code != 0 || !strings.Contains(out, "data root: "+env) {
		t.Errorf("env root: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, map[string]string{"MCDOOD_DATA": env}, "data", "check", "--data", flagRoot)
	if code != 0 || !strings.Contains(out, "data root: "+flagRoot) {
		t.Errorf("flag root: exit %d\n%s", code, out)
	}
	missing := filepath.Join(flagRoot, "nowhere")
	code, _, errOut := runCLI(t, nil, "data", "check", "--data", missing)
	if code != 1 || !strings.Contains(errOut, "mcdood data fetch --data "+missing) {
		t.Errorf("missing root: exit %d, stderr %q", code, errOut)
	}
}

func TestDataFetchMirror(t *testing.T) {
	mirror, root := t.TempDir(), filepath.Join(t.TempDir(), "data")
	writeCIFAR10(t, mirror, 2)
	code, _, errOut := runCLI(t, nil, "data", "fetch", "cifar10", "--data", root, "--mirror", mirror)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "published md5 does not apply") {
		t.Errorf("stderr:\n%s", errOut)
	}
	got, err := os.ReadFile(filepath.Join(root, "cifar-10-batches-bin", "test_batch.bin"))
	if err != nil || len(got) != 2*3073 {
		t.Fatalf("copied test batch: %d bytes, %v", len(got), err)
	}
	code, out, _ := runCLI(t, nil, "data", "check", "--data", root)
	if code != 0 || !strings.Contains(out, "cifar-10-batches-bin") {
		t.Errorf("check after fetch: exit %d\n%s", code, out)
	}
}

func TestDataFetchMissingOK(t *testing.T) {
	mirror, root := t.TempDir(), t.TempDir()
	writeCIFAR10(t, mirror, 1)
	code, _, errOut := runCLI(t, nil, "data", "fetch", "--data", root, "--mirror", mirror, "cifar10", "lsun-crop")
	if code != 1 || !strings.Contains(errOut, "error: lsun-crop: source unavailable: not in mirror") || !strings.Contains(errOut, "could not fetch lsun-crop") {
		t.Errorf("without --missing-ok: exit %d, stderr:\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "data", "fetch", "--data", root, "--mirror", mirror, "--missing-ok", "all")
	if code != 0 || !strings.Contains(errOut, "warning: isun: source unavailable") || !strings.Contains(errOut, "skipped: --missing-ok") {
		t.Errorf("with --missing-ok: exit %d, stderr:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "cifar10: already present") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

func TestDataUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"data"}, "missing subcommand"},
		{[]string{"data", "frob"}, `unknown subcommand "frob"`},
		{[]string{"data", "fetch"}, "no data set named"},
		{[]string{"data", "fetch", "svhn"}, `unknown data set "svhn" (want cifar10, cifar100, tinyimagenet, tinyimagenet-crop, tinyimagenet-resize, lsun-crop, lsun-resize, isun, odin-densenet10, odin-densenet100, resnet56-cifar10, all)`},
		{[]string{"data", "check", "extra"}, "check takes no arguments"},
		{[]string{"data", "check", "--mirror", "/m"}, "--mirror applies to fetch only"},
		{[]string{"data", "check", "--fit", "crop", "--mirror", "/m"}, "--fit applies to stats only; --mirror applies to fetch only"},
		{[]string{"data", "stats"}, "stats: no data set or path named"},
		{[]string{"data", "stats", "--fit", "bogus", "x"}, `--fit: unknown fit "bogus"`},
		{[]string{"data", "stats", "--mirror", "/m", "x"}, "--mirror applies to fetch only"},
	} {
		code, _, errOut := runCLI(t, nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestDataCheckMirror runs "data check" on the data mirror.
func TestDataCheckMirror(t *testing.T) {
	mirror := testenv.DataMirror(t)
	testenv.Long(t)
	code, out, errOut := runCLI(t, nil, "data", "check", "--data", mirror)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, w := range []string{"50000", "tiny-imagenet-200 (derived: seeded 32×32 crops)", "tiny-imagenet-200 (derived: odin-resize: nearest neighbour to 32×32, JPEG quality 75)", "9000",
		"derived: tinyimagenet-crop, tinyimagenet-resize built from Tiny ImageNet's test images as ODIN built its sets",
		"derived: tinyimagenet-crop-fix, tinyimagenet-resize-fix, the clean FIX twins"} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout does not mention %q:\n%s", w, out)
		}
	}
}

func TestDataHelpListsFetchNames(t *testing.T) {
	code, out, _ := runCLI(t, nil, "help", "data")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, n := range append(loaders.FetchNames(), "all") {
		if !strings.Contains(out, n) {
			t.Errorf("help does not list %q", n)
		}
	}
}

// TestDataStats measures a CIFAR-10 fixture by name and a folder by path:
// image counts, the high-frequency energy columns, and the JPEG encodings
// (Go's encoder writes the IJG tables; a PNG is "not JPEG").
func TestDataStats(t *testing.T) {
	root := t.TempDir()
	writeCIFAR10(t, root, 3)
	dir := filepath.Join(t.TempDir(), "imgs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	im := image.NewRGBA(image.Rect(0, 0, 40, 36))
	for i := range im.Pix {
		im.Pix[i] = byte(i * 37)
	}
	for i, q := range []int{75, 75, 90} {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, im, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.jpg", i)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, im); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "3.png"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "data", "stats", "--data", root, "cifar10", dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, w := range []string{
		"cifar10 (test)", "HF mean", "median",
		"2 baseline 4:2:0, IJG tables at quality 75; 1 baseline 4:2:0, IJG tables at quality 90; 1 not JPEG",
		"paths at each image's own size",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout does not mention %q:\n%s", w, out)
		}
	}
	// A fixture record's pixels are all one value: no high frequencies.
	if !regexp.MustCompile(`cifar10 \(test\)\s*│\s*3\s*│\s*0\.0\s*│`).MatchString(out) {
		t.Errorf("cifar10 row:\n%s", out)
	}
	code, out, errOut = runCLI(t, nil, "data", "stats", "--data", root, "--fit", "odin-resize", dir)
	if code != 0 || !strings.Contains(out, "(fit odin-resize)") || !strings.Contains(out, "paths after --fit odin-resize") {
		t.Errorf("--fit: exit %d\n%s%s", code, out, errOut)
	}
	if err := os.WriteFile(filepath.Join(dir, "4.jpg"), []byte("not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, nil, "data", "stats", "--data", root, dir)
	if code != 1 || !strings.Contains(errOut, filepath.Join(dir, "4.jpg")+": decode") {
		t.Errorf("broken file: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "data", "stats", "--data", root, "nowhere")
	if code != 1 || !strings.Contains(errOut, "stats nowhere: neither a data set") {
		t.Errorf("unknown argument: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "data", "stats", "--data", root, "isun")
	if code != 1 || !strings.Contains(errOut, "mcdood data fetch --data "+root+" isun") {
		t.Errorf("missing set: exit %d, stderr %q", code, errOut)
	}
}

// TestDataStatsMirror: the mirror's iSUN archive, by name, is ODIN's
// construction: every file baseline 4:2:0 at IJG quality 75.
func TestDataStatsMirror(t *testing.T) {
	mirror := testenv.DataMirror(t)
	code, out, errOut := runCLI(t, nil, "data", "stats", "--data", mirror, "isun")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, w := range []string{"8925 baseline 4:2:0, IJG tables at quality 75", "iSUN.tar.gz"} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout does not mention %q:\n%s", w, out)
		}
	}
}
