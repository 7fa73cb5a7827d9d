package loaders

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Archives are read in place, never extracted: the official CIFAR
// .tar.gz files, ODIN's .tar.gz image sets and the Tiny ImageNet .zip. The
// format is told by the first bytes (gzip 1f 8b, zip "PK\x03\x04" or
// "PK\x05\x06", else plain tar), not by the file name, so a download can be
// checked under its temporary name before it is renamed.

// archiveKind is the container format of an archive file.
type archiveKind int

const (
	archiveTar archiveKind = iota
	archiveTarGz
	archiveZip
)

func sniffArchive(ra io.ReaderAt) archiveKind {
	var b [4]byte
	n, _ := ra.ReadAt(b[:], 0)
	switch {
	case n >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return archiveTarGz
	case n >= 4 && b[0] == 'P' && b[1] == 'K' && (b[2] == 3 && b[3] == 4 || b[2] == 5 && b[3] == 6):
		return archiveZip
	}
	return archiveTar
}

// isArchiveName reports whether a file name looks like an archive the
// loaders read (used only to find candidates on disk).
func isArchiveName(name string) bool {
	n := strings.ToLower(name)
	for _, ext := range []string{".tar.gz", ".tgz", ".tar", ".zip"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

// member is one regular file of an archive, offered to a walk callback.
type member struct {
	Name string // cleaned slash path inside the archive, without a leading "./"
	Size int64
	r    io.Reader
}

// Read reads the member's bytes.
func (m *member) Read(p []byte) (int, error) { return m.r.Read(p) }

// maxMemberBytes bounds how much a walk callback may read into memory from
// one member, so that a corrupt header cannot make the loaders allocate
// without limit. CIFAR-100's train.bin (153.7 MB) is the largest member read.
const maxMemberBytes = 1 << 30

// walkArchive calls fn for every regular file of the archive at file (tar,
// tar.gz or zip), in archive order. fn may read the member or not. Errors
// name the archive, the member and, for tar streams, the byte offset in the
// uncompressed stream where reading failed.
func walkArchive(file string, fn func(m *member) error) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return walkArchiveReader(file, f, st.Size(), fn)
}

// walkArchiveReader is walkArchive over any random-access reader (fuzz tests
// pass bytes).
func walkArchiveReader(file string, ra io.ReaderAt, size int64, fn func(m *member) error) error {
	switch sniffArchive(ra) {
	case archiveZip:
		return walkZip(file, ra, size, fn)
	case archiveTarGz:
		zr, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), 1<<20))
		if err != nil {
			return fmt.Errorf("archive %s: gzip header: %w", file, err)
		}
		defer zr.Close()
		return walkTar(file, zr, true, fn)
	default:
		return walkTar(file, bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), 1<<20), false, fn)
	}
}

// countingReader counts bytes read, for offsets in error messages.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func walkTar(file string, r io.Reader, gz bool, fn func(m *member) error) error {
	cr := &countingReader{r: r}
	tr := tar.NewReader(cr)
	stream := "tar stream"
	if gz {
		stream = "uncompressed tar stream"
	}
	prev := ""
	regular := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			if regular == 0 && cr.n == 0 {
				return fmt.Errorf("archive %s: empty file, want a tar, tar.gz or zip archive", file)
			}
			return nil
		}
		if err != nil {
			if prev == "" {
				return fmt.Errorf("archive %s: not a tar, tar.gz or zip archive (no tar header at the start of the %s: %v)", file, stream, err)
			}
			where := "after member " + prev
			return fmt.Errorf("archive %s: corrupt tar header %s (byte offset %d of the %s): %w", file, where, cr.n, stream, err)
		}
		prev = h.Name
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA { //nolint:staticcheck // TypeRegA appears in old archives
			continue
		}
		if h.Size < 0 || h.Size > maxMemberBytes {
			return fmt.Errorf("archive %s: member %s: size %d bytes, want 0..%d", file, h.Name, h.Size, int64(maxMemberBytes))
		}
		regular++
		start := cr.n
		m := &member{Name: cleanMemberName(h.Name), Size: h.Size, r: tr}
		if err := fn(m); err != nil {
			if strings.Contains(err.Error(), file) {
				return err // the callback has located it already
			}
			return fmt.Errorf("archive %s: member %s (data from byte offset %d of the %s): %w", file, h.Name, start, stream, err)
		}
	}
}

func walkZip(file string, ra io.ReaderAt, size int64, fn func(m *member) error) error {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return fmt.Errorf("archive %s: zip directory: %w", file, err)
	}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !zf.Mode().IsRegular() {
			continue
		}
		if zf.UncompressedSize64 > maxMemberBytes {
			return fmt.Errorf("archive %s: member %s: size %d bytes, want at most %d", file, zf.Name, zf.UncompressedSize64, int64(maxMemberBytes))
		}
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("archive %s: member %s (local header at byte offset %d): %w", file, zf.Name, headerOffset(zf), err)
		}
		m := &member{Name: cleanMemberName(zf.Name), Size: int64(zf.UncompressedSize64), r: rc}
		err = fn(m)
		rc.Close()
		if err != nil {
			if strings.Contains(err.Error(), file) {
				return err
			}
			return fmt.Errorf("archive %s: member %s (data at byte offset %d): %w", file, zf.Name, headerOffset(zf), err)
		}
	}
	return nil
}

func headerOffset(zf *zip.File) int64 {
	off, err := zf.DataOffset()
	if err != nil {
		return -1
	}
	return off
}

// cleanMemberName turns "./a//b/c.jpg" into "a/b/c.jpg"; names escaping the
// archive root ("../x") keep their ".." so that they sort apart and never
// match an expected name.
func cleanMemberName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	c := path.Clean("/" + name)
	if strings.HasPrefix(name, "../") || name == ".." {
		return path.Clean(name)
	}
	return strings.TrimPrefix(c, "/")
}

// readMember reads a whole member, checking that it holds as many bytes as
// its header says.
func readMember(m *member) ([]byte, error) {
	// The header's size is not trusted for the first allocation: a corrupt
	// one must not make us allocate a gigabyte before the data runs out.
	buf := bytes.NewBuffer(make([]byte, 0, min(m.Size, 1<<20)+bytes.MinRead))
	n, err := io.Copy(buf, io.LimitReader(m, maxMemberBytes))
	if err != nil {
		return nil, err
	}
	if n != m.Size {
		return nil, fmt.Errorf("member %s: read %d bytes, header says %d: %w", m.Name, n, m.Size, io.ErrUnexpectedEOF)
	}
	return buf.Bytes(), nil
}
