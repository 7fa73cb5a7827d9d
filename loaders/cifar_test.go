package loaders

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
)

// checkCIFAR10Fixture checks a CIFAR-10 fixture of 3 records per batch and 2
// test records as written by cifar10Files(3, 2).
func checkCIFAR10Fixture(t *testing.T, train, test *Dataset) {
	t.Helper()
	if train.Len() != 15 || test.Len() != 2 {
		t.Fatalf("train %d test %d images, want 15 and 2", train.Len(), test.Len())
	}
	if train.Classes != 10 || test.Classes != 10 {
		t.Errorf("classes %d/%d, want 10", train.Classes, test.Classes)
	}
	if err := train.Validate(); err != nil {
		t.Error(err)
	}
	// Batches are concatenated in order 1..5; record r of batch f is image
	// 3f+r with label (3f+r) % 10.
	for f := 0; f < 5; f++ {
		for r := 0; r < 3; r++ {
			i := 3*f + r
			if train.Labels[i] != i%10 {
				t.Errorf("train image %d label %d, want %d", i, train.Labels[i], i%10)
			}
			img := train.Image(i)
			for _, k := range []int{0, 1, 1023, 1024, 2048, ImageBytes - 1} {
				if img[k] != cifarPixel(f, r, k) {
					t.Fatalf("train image %d byte %d = %d, want %d", i, k, img[k], cifarPixel(f, r, k))
				}
			}
		}
	}
	if !reflect.DeepEqual(test.Labels, []int{0, 1}) || test.Image(1)[5] != cifarPixel(9, 1, 5) {
		t.Errorf("test labels %v", test.Labels)
	}
}

func TestCIFAR10Folder(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "cifar-10-batches-bin"), cifar10Files(3, 2))
	train, test, err := CIFAR10(root)
	if err != nil {
		t.Fatal(err)
	}
	checkCIFAR10Fixture(t, train, test)
	if train.Name != "cifar10/train" || test.Name != "cifar10/test" {
		t.Errorf("names %q %q", train.Name, test.Name)
	}
}

func TestCIFAR10Archive(t *testing.T) {
	root := t.TempDir()
	files := cifar10Files(3, 2)
	// Members out of order, plus the other files of the official archive.
	files["batches.meta.txt"] = []byte("airplane\n")
	order := []string{"test_batch.bin", "batches.meta.txt", "data_batch_3.bin", "data_batch_1.bin", "data_batch_2.bin", "data_batch_5.bin", "data_batch_4.bin"}
	writeFile(t, filepath.Join(root, "cifar-10-binary.tar.gz"), tarBytes(t, prefixed("cifar-10-batches-bin/", files, order), true))
	train, test, err := CIFAR10(root)
	if err != nil {
		t.Fatal(err)
	}
	checkCIFAR10Fixture(t, train, test)
}

func TestCIFAR10FolderWinsOverArchive(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "cifar-10-batches-bin"), cifar10Files(3, 2))
	writeFile(t, filepath.Join(root, "cifar-10-binary.tar.gz"), []byte("not read"))
	if _, _, err := CIFAR10(root); err != nil {
		t.Fatal(err)
	}
}

func TestCIFAR100FolderAndArchive(t *testing.T) {
	files := cifar100Files(7, 4)
	dirRoot := t.TempDir()
	writeFiles(t, filepath.Join(dirRoot, "cifar-100-binary"), files)
	arcRoot := t.TempDir()
	writeFile(t, filepath.Join(arcRoot, "cifar-100-binary.tar.gz"),
		tarBytes(t, prefixed("cifar-100-binary/", files, []string{"test.bin", "train.bin"}), true))
	for _, root := range []string{dirRoot, arcRoot} {
		train, test, err := CIFAR100(root)
		if err != nil {
			t.Fatal(err)
		}
		if train.Len() != 7 || test.Len() != 4 || train.Classes != 100 {
			t.Fatalf("%s: %d/%d images, %d classes", root, train.Len(), test.Len(), train.Classes)
		}
		// The fine label (second byte) is kept: (3r) % 100.
		if want := []int{0, 3, 6, 9, 12, 15, 18}; !reflect.DeepEqual(train.Labels, want) {
			t.Errorf("labels %v, want %v", train.Labels, want)
		}
		if train.Image(2)[0] != cifarPixel(0, 2, 0) || test.Image(3)[ImageBytes-1] != cifarPixel(1, 3, ImageBytes-1) {
			t.Error("pixels misplaced")
		}
	}
}

func TestCIFARErrors(t *testing.T) {
	good := cifar10Files(3, 2)
	rec := 1 + ImageBytes
	for _, tc := range []struct {
		name   string
		modify func(files map[string][]byte)
		want   []string
	}{
		{"truncated", func(f map[string][]byte) { f["data_batch_2.bin"] = f["data_batch_2.bin"][:2*rec+100] },
			[]string{"data_batch_2.bin", "record 2 at byte offset 6146 is truncated", "100 of 3073 bytes"}},
		{"label out of range", func(f map[string][]byte) { f["data_batch_4.bin"][rec] = 10 },
			[]string{"data_batch_4.bin", "record 1 at byte offset 3073", "label 10, want 0..9"}},
		{"empty", func(f map[string][]byte) { f["test_batch.bin"] = nil },
			[]string{"test_batch.bin", "empty"}},
		{"missing file", func(f map[string][]byte) { delete(f, "data_batch_5.bin") },
			[]string{"data_batch_5.bin is missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range good {
				files[k] = bytes.Clone(v)
			}
			tc.modify(files)
			root := t.TempDir()
			writeFiles(t, filepath.Join(root, "cifar-10-batches-bin"), files)
			_, _, err := CIFAR10(root)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestCIFAR100CoarseLabelChecked(t *testing.T) {
	files := cifar100Files(3, 2)
	files["test.bin"][1+ImageBytes+1] = 20 // coarse label of record 1
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "cifar-100-binary"), files)
	_, _, err := CIFAR100(root)
	if err == nil || !strings.Contains(err.Error(), "record 1 at byte offset 3074: coarse label 20, want 0..19") {
		t.Fatalf("error %v", err)
	}
}

func TestCIFARBrokenArchive(t *testing.T) {
	files := cifar10Files(3, 2)
	order := []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}
	whole := tarBytes(t, prefixed("cifar-10-batches-bin/", files, order), true)
	plain := tarBytes(t, prefixed("cifar-10-batches-bin/", files, order), false)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated gzip", whole[:len(whole)/2], "cifar-10-binary.tar.gz"},
		{"not an archive", []byte("<html>Dropbox error</html>"), "cifar-10-binary.tar.gz"},
		{"truncated tar", plain[:len(plain)-5000], "truncated"},
		{"missing member", tarBytes(t, prefixed("cifar-10-batches-bin/", files, order[:5]), true), "no member cifar-10-batches-bin/test_batch.bin"},
		{"bad gzip body", corruptMiddle(whole), "cifar-10-binary.tar.gz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "cifar-10-binary.tar.gz"), tc.data)
			_, _, err := CIFAR10(root)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func corruptMiddle(b []byte) []byte {
	c := bytes.Clone(b)
	for i := len(c) / 2; i < len(c)/2+64; i++ {
		c[i] ^= 0x5a
	}
	return c
}

func TestCIFARNotFound(t *testing.T) {
	root := t.TempDir()
	_, _, err := CIFAR10(root)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("error %v is not ErrNotFound", err)
	}
	for _, w := range []string{"cifar-10-batches-bin", "cifar-10-binary.tar.gz", "mcdood data fetch --data " + root + " cifar10"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if _, _, err := CIFAR100(root); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "fetch --data "+root+" cifar100") {
		t.Errorf("CIFAR100: %v", err)
	}
}

// TestCIFAR10Mirror reads the real data mirror: 50,000 training and 10,000
// test images, 5,000 and 1,000 per class.
func TestCIFAR10Mirror(t *testing.T) {
	root := testenv.DataMirror(t)
	train, test, err := CIFAR10(root)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 50000 || test.Len() != 10000 {
		t.Fatalf("%d training and %d test images, want 50,000 and 10,000", train.Len(), test.Len())
	}
	for _, x := range []struct {
		d    *Dataset
		want int
	}{{train, 5000}, {test, 1000}} {
		counts := make([]int, 10)
		for _, l := range x.d.Labels {
			counts[l]++
		}
		for c, n := range counts {
			if n != x.want {
				t.Errorf("%s class %d: %d images, want %d", x.d.Name, c, n, x.want)
			}
		}
	}
}

// BenchmarkLoadCIFAR10 loads all of CIFAR-10 (60,000 images, 184 MB) from
// the mirror's extracted folder into memory.
//
//	go test -run '^$' -bench LoadCIFAR10 -benchtime 10x ./loaders/
func BenchmarkLoadCIFAR10(b *testing.B) {
	root := testenv.DataMirror(b)
	var size int64
	for _, f := range append(append([]string{}, cifar10Layout.train...), cifar10Layout.test) {
		st, err := os.Stat(filepath.Join(root, cifar10Layout.folder, f))
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		train, test, err := CIFAR10(root)
		if err != nil {
			b.Fatal(err)
		}
		if train.Len()+test.Len() != 60000 {
			b.Fatal("wrong count")
		}
	}
}
