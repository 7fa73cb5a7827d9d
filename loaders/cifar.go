package loaders

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// CIFAR-10 and CIFAR-100 (Krizhevsky, "Learning Multiple Layers of Features
// from Tiny Images", 2009) in the official binary layout described on
// https://www.cs.toronto.edu/~kriz/cifar.html: each record is the label
// byte(s) followed by 3,072 pixel bytes, the red, green and blue 32×32
// planes, each row-major — exactly Dataset's layout, so records are copied
// without conversion.

// cifarLayout describes one of the two official binary releases.
type cifarLayout struct {
	name       string   // catalog name: "cifar10"
	folder     string   // the folder the archive extracts to
	archive    string   // the official archive's file name
	train      []string // training files in concatenation order
	test       string
	labelBytes int // 1 for CIFAR-10; 2 (coarse, fine) for CIFAR-100
	classes    int // of the label that is kept (the last label byte)
	coarse     int // CIFAR-100's coarse classes (first label byte), 0 if none
	perFile    int // records per file in the official release, for Check
}

func (l *cifarLayout) recordBytes() int { return l.labelBytes + ImageBytes }

func (l *cifarLayout) recordDesc() string {
	if l.labelBytes == 1 {
		return "1 label byte + 3,072 pixel bytes"
	}
	return fmt.Sprintf("%d label bytes + 3,072 pixel bytes", l.labelBytes)
}

// trackingReader remembers the first error other than io.EOF from r (a
// truncated or corrupt archive) and how many bytes came before it.
type trackingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

var cifar10Layout = &cifarLayout{
	name:       "cifar10",
	folder:     "cifar-10-batches-bin",
	archive:    "cifar-10-binary.tar.gz",
	train:      []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
	test:       "test_batch.bin",
	labelBytes: 1,
	classes:    10,
}

// CIFAR-100's record is <coarse label><fine label><3,072 pixels>; the loaders
// keep the fine label (100 classes), as the MCD authors (torchvision's
// CIFAR100) and ODIN do.
var cifar100Layout = &cifarLayout{
	name:       "cifar100",
	folder:     "cifar-100-binary",
	archive:    "cifar-100-binary.tar.gz",
	train:      []string{"train.bin"},
	test:       "test.bin",
	labelBytes: 2,
	classes:    100,
	coarse:     20,
}

// Official sizes, checked by Check and by fetch for mirror copies.
const (
	cifarTrainImages = 50000
	cifarTestImages  = 10000
)

// CIFAR10 reads CIFAR-10 from root, which holds either the extracted folder
// cifar-10-batches-bin/ (data_batch_1.bin … data_batch_5.bin and
// test_batch.bin) or the official cifar-10-binary.tar.gz, read in place. The
// folder wins when both are present. The training set is the five batches
// in order (50,000 images in the official release), the test set
// test_batch.bin (10,000). A missing data set is a *NotFoundError.
func CIFAR10(root string) (train, test *Dataset, err error) {
	return loadCIFAR(cifar10Layout, root)
}

// CIFAR100 reads CIFAR-100 from root: the folder cifar-100-binary/ (train.bin,
// test.bin) or the official cifar-100-binary.tar.gz. Labels are the fine
// labels (100 classes); the coarse byte is validated (0..19) and dropped.
func CIFAR100(root string) (train, test *Dataset, err error) {
	return loadCIFAR(cifar100Layout, root)
}

// locate returns the folder or archive holding the set under root.
func (l *cifarLayout) locate(root string) (p string, isArchive bool, err error) {
	dir := filepath.Join(root, l.folder)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir, false, nil
	}
	arc := filepath.Join(root, l.archive)
	if st, err := os.Stat(arc); err == nil && st.Mode().IsRegular() {
		return arc, true, nil
	}
	return "", false, &NotFoundError{Name: l.name, Root: root, Looked: []string{dir, arc}, Fetch: l.name}
}

func loadCIFAR(l *cifarLayout, root string) (train, test *Dataset, err error) {
	p, isArchive, err := l.locate(root)
	if err != nil {
		return nil, nil, err
	}
	if isArchive {
		return l.readArchive(p)
	}
	return l.readDir(p)
}

// readDir reads the extracted folder, sizing the buffers from the files'
// sizes so records are read straight into place.
func (l *cifarLayout) readDir(dir string) (train, test *Dataset, err error) {
	read := func(split string, files []string) (*Dataset, error) {
		var total int64
		for _, f := range files {
			st, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("%s: %s is missing (want %v)", dir, f, append(append([]string{}, l.train...), l.test))
				}
				return nil, err
			}
			total += st.Size()
		}
		n := int(total / int64(l.recordBytes()))
		d := &Dataset{Name: l.name + "/" + split, Classes: l.classes,
			Pixels: make([]byte, 0, n*ImageBytes), Labels: make([]int, 0, n)}
		for _, f := range files {
			fp := filepath.Join(dir, f)
			fh, _, err := openRegular(fp)
			if err != nil {
				return nil, err
			}
			d.Pixels, d.Labels, err = l.readRecords(fh, fp, d.Pixels, d.Labels)
			fh.Close()
			if err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	if train, err = read("train", l.train); err != nil {
		return nil, nil, err
	}
	if test, err = read("test", []string{l.test}); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// readArchive reads the official .tar.gz in place. Members are matched by
// base name (the official archives hold each file once, under the folder).
func (l *cifarLayout) readArchive(file string) (train, test *Dataset, err error) {
	f, size, err := openRegular(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return l.readArchiveReader(file, f, size)
}

// readArchiveReader is readArchive over any random-access reader (fuzz
// tests pass bytes).
func (l *cifarLayout) readArchiveReader(file string, ra io.ReaderAt, size int64) (train, test *Dataset, err error) {
	want := map[string]int{} // base name → slot
	files := append(append([]string{}, l.train...), l.test)
	for i, f := range files {
		want[f] = i
	}
	type slot struct {
		pixels []byte
		labels []int
		seen   bool
	}
	slots := make([]slot, len(files))
	err = walkArchiveReader(file, ra, size, func(m *member) error {
		i, ok := want[path.Base(m.Name)]
		if !ok {
			return nil
		}
		if slots[i].seen {
			return fmt.Errorf("archive %s: %s appears twice", file, files[i])
		}
		if m.Size%int64(l.recordBytes()) != 0 {
			return fmt.Errorf("%s:%s: tar header gives %d bytes, not a whole number of %d-byte records", file, m.Name, m.Size, l.recordBytes())
		}
		// Preallocate from the header, but no more than the official
		// release's largest file (a corrupt header must not allocate more).
		n := int(min(m.Size/int64(l.recordBytes()), cifarTrainImages))
		tr := &trackingReader{r: m}
		px, lb, err := l.readRecords(tr, file+":"+m.Name, make([]byte, 0, n*ImageBytes), make([]int, 0, n))
		if tr.err != nil {
			// The archive itself ended or broke inside the member.
			return fmt.Errorf("%s:%s: the archive is truncated or corrupt after byte %d of this member (its tar header says %d bytes): %w", file, m.Name, tr.n, m.Size, tr.err)
		}
		if err != nil {
			return err
		}
		if got := int64(len(lb)) * int64(l.recordBytes()); got != m.Size {
			return fmt.Errorf("%s:%s: %d bytes read, tar header says %d: %w", file, m.Name, got, m.Size, io.ErrUnexpectedEOF)
		}
		slots[i] = slot{px, lb, true}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for i, s := range slots {
		if !s.seen {
			return nil, nil, fmt.Errorf("archive %s: no member %s/%s (want %v)", file, l.folder, files[i], files)
		}
	}
	join := func(split string, ss []slot) *Dataset {
		d := &Dataset{Name: l.name + "/" + split, Classes: l.classes}
		if len(ss) == 1 {
			d.Pixels, d.Labels = ss[0].pixels, ss[0].labels
			return d
		}
		for _, s := range ss {
			d.Pixels = append(d.Pixels, s.pixels...)
			d.Labels = append(d.Labels, s.labels...)
		}
		return d
	}
	return join("train", slots[:len(l.train)]), join("test", slots[len(l.train):]), nil
}

// cifarChunk is how many records readRecords reads per call.
const cifarChunk = 256

// readRecords appends the records of one file to pixels and labels. file
// names the source in errors, which give the record index and its byte
// offset: a file that does not end on a record boundary, a label out of
// range, or an empty file.
func (l *cifarLayout) readRecords(r io.Reader, file string, pixels []byte, labels []int) ([]byte, []int, error) {
	rb := l.recordBytes()
	buf := make([]byte, cifarChunk*rb)
	rec := 0
	for {
		n, err := io.ReadFull(r, buf)
		whole := n / rb
		for k := 0; k < whole; k++ {
			b := buf[k*rb : (k+1)*rb]
			off := int64(rec) * int64(rb)
			if l.coarse > 0 && int(b[0]) >= l.coarse {
				return pixels, labels, fmt.Errorf("%s: record %d at byte offset %d: coarse label %d, want 0..%d", file, rec, off, b[0], l.coarse-1)
			}
			lab := int(b[l.labelBytes-1])
			if lab >= l.classes {
				return pixels, labels, fmt.Errorf("%s: record %d at byte offset %d: label %d, want 0..%d", file, rec, off+int64(l.labelBytes-1), lab, l.classes-1)
			}
			labels = append(labels, lab)
			pixels = append(pixels, b[l.labelBytes:]...)
			rec++
		}
		switch err {
		case nil:
			continue
		case io.EOF, io.ErrUnexpectedEOF:
			if rest := n - whole*rb; rest > 0 {
				return pixels, labels, fmt.Errorf("%s: record %d at byte offset %d is truncated: %d of %d bytes (%s); the data ends at byte %d, not on a record boundary",
					file, rec, int64(rec)*int64(rb), rest, rb, l.recordDesc(), int64(rec)*int64(rb)+int64(rest))
			}
			if rec == 0 {
				return pixels, labels, fmt.Errorf("%s: empty, want %d-byte records (%s)", file, rb, l.recordDesc())
			}
			return pixels, labels, nil
		default:
			return pixels, labels, fmt.Errorf("%s: reading record %d at byte offset %d: %w", file, rec, int64(rec)*int64(rb), err)
		}
	}
}
