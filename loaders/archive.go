package loaders

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"errors"
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

// Archives are read streaming and within budgets, so that a small hostile
// archive cannot exhaust memory or time: a member is decoded as it is read
// and never held whole (only the images it yields are kept), the number of
// members and the uncompressed bytes are capped (archiveLimits), and a
// member's header may not claim more than maxMemberBytes.

// archiveBudget bounds what reading one archive may cost.
type archiveBudget struct {
	// members caps the entries of an archive (every tar header, every zip
	// directory entry, folders included).
	members int
	// bytes caps the uncompressed bytes: the whole uncompressed tar stream
	// (headers and padding included) per pass, or the sizes a zip's
	// directory declares for its files (which the zip reader enforces).
	bytes int64
}

// archiveLimits are the budgets of every archive read: 250,000 members and
// 4 GiB uncompressed. The largest honest archives the loaders read are Tiny
// ImageNet's zip (about 120,600 entries, 120,000 of them JPEGs of a few KB;
// under 300 MB uncompressed), CIFAR-100's .tar.gz (185 MB uncompressed) and
// ODIN's sets (10,000 images of a few KB each), so honest data stays far
// below both, while a bomb of zero-filled members (1 MB of gzip holds about
// 1 GB of zeros) stops after 4 GiB of decompression, however large it
// claims to be. A set beyond them can be extracted to a folder: folders have
// no budget. Tests lower the limits.
var archiveLimits = archiveBudget{members: 250_000, bytes: 4 << 30}

// member is one regular file of an archive, offered to a walk callback.
type member struct {
	Name  string // cleaned slash path inside the archive, without a leading "./"
	Size  int64
	Index int // position among the archive's regular files, from 0
	r     io.Reader
}

// Read reads the member's bytes.
func (m *member) Read(p []byte) (int, error) { return m.r.Read(p) }

// maxMemberBytes bounds the size a member's header may claim, so that a
// corrupt header cannot make the loaders allocate without limit. CIFAR-100's
// train.bin (153.7 MB) is the largest member read.
const maxMemberBytes = 1 << 30

// walkArchiveReader calls fn for every regular file of the archive in ra
// (tar, tar.gz or zip; size bytes), in archive order; file names it in
// errors. fn may read the member or not. Errors name the archive, the member
// and, for tar streams, the byte offset in the uncompressed stream where
// reading failed. The archive must stay within archiveLimits. Callers open
// the file with openRegular (a named pipe or device is refused before it is
// opened); fuzz tests pass bytes.
func walkArchiveReader(file string, ra io.ReaderAt, size int64, fn func(m *member) error) error {
	switch sniffArchive(ra) {
	case archiveZip:
		zr, err := openZip(file, ra, size)
		if err != nil {
			return err
		}
		return walkZip(file, zr, fn)
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

// errOverBudget is returned by a budgetReader past its limit.
var errOverBudget = errors.New("over the uncompressed-bytes budget")

// budgetReader counts bytes read, for offsets in error messages, and fails
// once more than limit bytes have been read.
type budgetReader struct {
	r     io.Reader
	n     int64
	limit int64
	over  bool
}

func (c *budgetReader) Read(p []byte) (int, error) {
	if c.n > c.limit {
		c.over = true
		return 0, errOverBudget
	}
	if room := c.limit + 1 - c.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func bytesBudgetError(file, where string, limit int64) error {
	return fmt.Errorf("archive %s: more than %d bytes uncompressed%s, the limit for an archive read in place (extract it to a folder to read more)", file, limit, where)
}

func membersBudgetError(file string, limit int) error {
	return fmt.Errorf("archive %s: more than %d members, the limit for an archive read in place (extract it to a folder to read more)", file, limit)
}

func walkTar(file string, r io.Reader, gz bool, fn func(m *member) error) error {
	lim := archiveLimits
	cr := &budgetReader{r: r, limit: lim.bytes}
	tr := tar.NewReader(cr)
	stream := "tar stream"
	if gz {
		stream = "uncompressed tar stream"
	}
	prev := ""
	regular, headers := 0, 0
	for {
		h, err := tr.Next()
		if cr.over {
			where := ""
			if prev != "" {
				where = " (reading past member " + prev + ")"
			}
			return bytesBudgetError(file, where, lim.bytes)
		}
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
		if headers++; headers > lim.members {
			return membersBudgetError(file, lim.members)
		}
		prev = h.Name
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA { //nolint:staticcheck // TypeRegA appears in old archives
			continue
		}
		if h.Size < 0 || h.Size > maxMemberBytes {
			return fmt.Errorf("archive %s: member %s: size %d bytes, want 0..%d", file, h.Name, h.Size, int64(maxMemberBytes))
		}
		start := cr.n
		m := &member{Name: cleanMemberName(h.Name), Size: h.Size, Index: regular, r: tr}
		regular++
		if err := fn(m); err != nil {
			if cr.over {
				return bytesBudgetError(file, " (in member "+h.Name+")", lim.bytes)
			}
			if strings.Contains(err.Error(), file) {
				return err // the callback has located it already
			}
			return fmt.Errorf("archive %s: member %s (data from byte offset %d of the %s): %w", file, h.Name, start, stream, err)
		}
	}
}

// openZip reads a zip's directory and checks it against archiveLimits.
func openZip(file string, ra io.ReaderAt, size int64) (*zip.Reader, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, fmt.Errorf("archive %s: zip directory: %w", file, err)
	}
	lim := archiveLimits
	if len(zr.File) > lim.members {
		return nil, membersBudgetError(file, lim.members)
	}
	var total uint64
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !zf.Mode().IsRegular() {
			continue
		}
		if zf.UncompressedSize64 > maxMemberBytes {
			return nil, fmt.Errorf("archive %s: member %s: size %d bytes, want at most %d", file, zf.Name, zf.UncompressedSize64, int64(maxMemberBytes))
		}
		if total += zf.UncompressedSize64; total > uint64(lim.bytes) {
			return nil, bytesBudgetError(file, " (its directory declares more by member "+zf.Name+")", lim.bytes)
		}
	}
	return zr, nil
}

func walkZip(file string, zr *zip.Reader, fn func(m *member) error) error {
	regular := 0
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !zf.Mode().IsRegular() {
			continue
		}
		m := &member{Name: cleanMemberName(zf.Name), Size: int64(zf.UncompressedSize64), Index: regular}
		regular++
		if err := readZipMember(file, zf, m, fn); err != nil {
			return err
		}
	}
	return nil
}

// readZipMember opens zf and calls fn with m reading it.
func readZipMember(file string, zf *zip.File, m *member, fn func(m *member) error) error {
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("archive %s: member %s (local header at byte offset %d): %w", file, zf.Name, headerOffset(zf), err)
	}
	m.r = rc
	err = fn(m)
	rc.Close()
	if err != nil {
		if strings.Contains(err.Error(), file) {
			return err
		}
		return fmt.Errorf("archive %s: member %s (data at byte offset %d): %w", file, zf.Name, headerOffset(zf), err)
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

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// imageArchive is an archive opened to read images from: its regular
// members are listed once (within archiveLimits, reading no member's data),
// then read by index — in any order from a zip, in archive order (one more
// pass over the stream) from a tar or tar.gz. Memory is what the caller
// keeps of each member, never the members themselves.
type imageArchive struct {
	file    string
	ra      io.ReaderAt
	size    int64
	f       *os.File    // closed by Close; nil when reading bytes
	zf      []*zip.File // a zip's regular members, as members; nil for a tar
	members []archiveMember
}

// archiveMember is a regular file of an imageArchive.
type archiveMember struct {
	Name string // cleaned, as member.Name
	Size int64
}

// openImageArchive opens the archive at file (a regular file) and lists its
// members. probe, when not nil, is called with each member of a tar while
// it is listed (a zip's are not read to list them), so that a member that is
// not what it should be stops the listing there rather than after the
// whole stream.
func openImageArchive(file string, probe func(m *member) error) (*imageArchive, error) {
	f, size, err := openRegular(file)
	if err != nil {
		return nil, err
	}
	a, err := newImageArchive(file, f, size, probe)
	if err != nil {
		f.Close()
		return nil, err
	}
	a.f = f
	return a, nil
}

// newImageArchive lists the members of the archive in ra (fuzz tests pass
// bytes); file names it in errors.
func newImageArchive(file string, ra io.ReaderAt, size int64, probe func(m *member) error) (*imageArchive, error) {
	a := &imageArchive{file: file, ra: ra, size: size}
	if sniffArchive(ra) == archiveZip {
		zr, err := openZip(file, ra, size)
		if err != nil {
			return nil, err
		}
		a.zf = []*zip.File{}
		for _, zf := range zr.File {
			if zf.FileInfo().IsDir() || !zf.Mode().IsRegular() {
				continue
			}
			a.zf = append(a.zf, zf)
			a.members = append(a.members, archiveMember{Name: cleanMemberName(zf.Name), Size: int64(zf.UncompressedSize64)})
		}
		return a, nil
	}
	err := walkArchiveReader(file, ra, size, func(m *member) error {
		a.members = append(a.members, archiveMember{Name: m.Name, Size: m.Size})
		if probe != nil {
			return probe(m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Close closes the archive's file.
func (a *imageArchive) Close() error {
	if a.f == nil {
		return nil
	}
	return a.f.Close()
}

// inOrder reports whether read visits the members in the order asked (a
// zip) rather than in archive order (a tar).
func (a *imageArchive) inOrder() bool { return a.zf != nil }

// read calls fn for each member in idx (indices into members), in the order
// of idx for a zip and in archive order for a tar. After fn returns, the
// rest of the member is read and discarded (without keeping it), so that a
// truncated member or a zip checksum error is an error whatever fn read,
// and a member must hold as many bytes as its header says. A tar whose
// members differ from the listing (the file changed in between) is an
// error.
func (a *imageArchive) read(idx []int, fn func(i int, r io.Reader) error) error {
	whole := func(m *member) error {
		cr := &countingReader{r: m.r}
		if err := fn(m.Index, cr); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, cr); err != nil {
			return err
		}
		if cr.n != m.Size {
			return fmt.Errorf("member %s: read %d bytes, header says %d: %w", m.Name, cr.n, m.Size, io.ErrUnexpectedEOF)
		}
		return nil
	}
	if a.zf != nil {
		for _, i := range idx {
			m := &member{Name: a.members[i].Name, Size: a.members[i].Size, Index: i}
			if err := readZipMember(a.file, a.zf[i], m, whole); err != nil {
				return err
			}
		}
		return nil
	}
	want := make([]bool, len(a.members))
	for _, i := range idx {
		want[i] = true
	}
	seen := 0
	changed := func(what string) error {
		return fmt.Errorf("archive %s changed while it was read (%s); read it again", a.file, what)
	}
	err := walkArchiveReader(a.file, a.ra, a.size, func(m *member) error {
		if m.Index >= len(a.members) || a.members[m.Index].Name != m.Name || a.members[m.Index].Size != m.Size {
			return changed(fmt.Sprintf("member %d is now %s, %d bytes", m.Index+1, m.Name, m.Size))
		}
		seen = m.Index + 1
		if !want[m.Index] {
			return nil
		}
		return whole(m)
	})
	if err == nil && seen != len(a.members) {
		err = changed(fmt.Sprintf("%d regular members, listed %d", seen, len(a.members)))
	}
	return err
}
