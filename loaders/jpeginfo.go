package loaders

import (
	"errors"
	"fmt"
)

// JPEG headers: what a file says about how it was encoded (ITU-T T.81),
// read without decoding the image. ODIN's archives (Liang et al., ICLR
// 2018) were written by PIL with its defaults: baseline, 4:2:0 chroma
// subsampling, and the example tables of T.81 Annex K scaled by the
// Independent JPEG Group's quality formula at quality 75. JPEGInfo and
// IJGTables let a test (and "mcdood data stats") check that of any file.

// JPEGComponent is one colour component of a frame (T.81 B.2.2).
type JPEGComponent struct {
	ID    int // component identifier (1, 2, 3 for JFIF's Y, Cb, Cr)
	H, V  int // horizontal and vertical sampling factors, 1..4
	Table int // quantisation table slot, 0..3
}

// JPEGInfo is what a JPEG file's headers say, up to its first scan.
type JPEGInfo struct {
	Width, Height int
	// Process is the coding process of the frame: "baseline",
	// "extended sequential", "progressive", "lossless", or one of those
	// followed by ", arithmetic" or ", hierarchical".
	Process    string
	Precision  int // sample precision in bits (8 for baseline)
	Components []JPEGComponent
	// Tables holds the quantisation tables defined before the first scan,
	// by slot, in natural (row-major) order, not the file's zig-zag order.
	Tables map[int][64]uint16
}

// Subsampling names the chroma subsampling as "4:4:4", "4:2:2", "4:2:0",
// "4:4:0", "4:1:1" or "4:1:0" for a three-component frame whose two chroma
// components share sampling factors 1×1, "grey" for one component, and lists
// the factors (like "2x2,1x1,1x1") otherwise.
func (j JPEGInfo) Subsampling() string {
	switch len(j.Components) {
	case 1:
		return "grey"
	case 3:
		y, cb, cr := j.Components[0], j.Components[1], j.Components[2]
		if cb.H == 1 && cb.V == 1 && cr.H == 1 && cr.V == 1 {
			switch [2]int{y.H, y.V} {
			case [2]int{1, 1}:
				return "4:4:4"
			case [2]int{2, 1}:
				return "4:2:2"
			case [2]int{2, 2}:
				return "4:2:0"
			case [2]int{1, 2}:
				return "4:4:0"
			case [2]int{4, 1}:
				return "4:1:1"
			case [2]int{4, 2}:
				return "4:1:0"
			}
		}
	}
	s := ""
	for i, c := range j.Components {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%dx%d", c.H, c.V)
	}
	return s
}

// IJGQuality returns the lowest quality Q in 1..100 at which the IJG
// scaling of the Annex K tables (IJGTables) gives exactly the tables the
// frame uses: the luminance table for the first component, the chrominance
// table for the others, as libjpeg's jpeg_set_quality assigns them. It
// returns 0 when no quality gives them (custom tables, or a table missing).
func (j JPEGInfo) IJGQuality() int {
	if len(j.Components) == 0 {
		return 0
	}
	for q := 1; q <= 100; q++ {
		lum, chr := IJGTables(q)
		ok := true
		for i, c := range j.Components {
			want := chr
			if i == 0 {
				want = lum
			}
			if t, found := j.Tables[c.Table]; !found || t != want {
				ok = false
				break
			}
		}
		if ok {
			return q
		}
	}
	return 0
}

// String summarises the encoding: "baseline 4:2:0, IJG tables at quality 75"
// or "progressive 4:4:4, custom tables".
func (j JPEGInfo) String() string {
	tables := "custom tables"
	if q := j.IJGQuality(); q > 0 {
		tables = fmt.Sprintf("IJG tables at quality %d", q)
	}
	return fmt.Sprintf("%s %s, %s", j.Process, j.Subsampling(), tables)
}

// jpegStdLuminance and jpegStdChrominance are the example quantisation
// tables of ITU-T T.81 Annex K (Tables K.1 and K.2), natural order.
var jpegStdLuminance = [64]uint16{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}

var jpegStdChrominance = [64]uint16{
	17, 18, 24, 47, 99, 99, 99, 99,
	18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99,
	47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
}

// jpegZigzag maps the k-th coefficient of a file's zig-zag order to its
// natural (row-major) index (T.81 Figure A.6).
var jpegZigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// IJGTables returns the quantisation tables libjpeg's
// jpeg_set_quality(quality, force_baseline=TRUE) writes, natural order:
// jpeg_quality_scaling (5000/Q below 50, 200 − 2Q from 50), then each Annex K
// entry scaled as (entry·scale + 50)/100 and clamped to 1..255. PIL's save
// and Go's image/jpeg encoder use the same formula. quality is clamped to
// 1..100.
func IJGTables(quality int) (luminance, chrominance [64]uint16) {
	quality = min(max(quality, 1), 100)
	scale := 200 - 2*quality
	if quality < 50 {
		scale = 5000 / quality
	}
	f := func(std [64]uint16) (t [64]uint16) {
		for i, v := range std {
			x := (int(v)*scale + 50) / 100
			t[i] = uint16(min(max(x, 1), 255))
		}
		return t
	}
	return f(jpegStdLuminance), f(jpegStdChrominance)
}

// ReadJPEGInfo reads the headers of a JPEG file up to its first scan (SOS):
// the frame (SOFn) and the quantisation tables (DQT). It does not decode the
// image; errors say which marker is malformed.
func ReadJPEGInfo(data []byte) (JPEGInfo, error) {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return JPEGInfo{}, errors.New("not a JPEG file (no SOI marker)")
	}
	info := JPEGInfo{Tables: map[int][64]uint16{}}
	frame := false
	p := 2
	for {
		// A marker is 0xFF (possibly repeated as fill) and a code.
		for p < len(data) && data[p] != 0xFF {
			p++ // tolerate garbage between segments, as decoders do
		}
		for p < len(data) && data[p] == 0xFF {
			p++
		}
		if p >= len(data) {
			return JPEGInfo{}, errors.New("JPEG: no SOS marker before the end of the file")
		}
		code := data[p]
		p++
		switch {
		case code == 0xD8 || code == 0x01 || (code >= 0xD0 && code <= 0xD7):
			continue // markers without a segment
		case code == 0xD9:
			return JPEGInfo{}, errors.New("JPEG: EOI before any scan")
		}
		if p+2 > len(data) {
			return JPEGInfo{}, fmt.Errorf("JPEG: marker 0x%02X truncated", code)
		}
		n := int(data[p])<<8 | int(data[p+1])
		if n < 2 || p+n > len(data) {
			return JPEGInfo{}, fmt.Errorf("JPEG: marker 0x%02X segment of %d bytes overruns the file", code, n)
		}
		seg := data[p+2 : p+n]
		p += n
		switch {
		case code == 0xDA: // SOS: the headers end here
			if !frame {
				return JPEGInfo{}, errors.New("JPEG: scan before any frame header (SOF)")
			}
			return info, nil
		case code == 0xDB:
			if err := readDQT(seg, info.Tables); err != nil {
				return JPEGInfo{}, err
			}
		case code >= 0xC0 && code <= 0xCF && code != 0xC4 && code != 0xC8 && code != 0xCC:
			if frame {
				continue // a hierarchical file's later frames; keep the first
			}
			if err := readSOF(code, seg, &info); err != nil {
				return JPEGInfo{}, err
			}
			frame = true
		}
	}
}

func readDQT(seg []byte, tables map[int][64]uint16) error {
	for len(seg) > 0 {
		pq, tq := int(seg[0]>>4), int(seg[0]&15)
		size := 1 + 64*(pq+1)
		if pq > 1 || tq > 3 || len(seg) < size {
			return fmt.Errorf("JPEG: malformed DQT (precision %d, slot %d, %d bytes left)", pq, tq, len(seg))
		}
		var t [64]uint16
		for k := 0; k < 64; k++ {
			v := uint16(seg[1+k])
			if pq == 1 {
				v = uint16(seg[1+2*k])<<8 | uint16(seg[2+2*k])
			}
			t[jpegZigzag[k]] = v
		}
		tables[tq] = t
		seg = seg[size:]
	}
	return nil
}

func readSOF(code byte, seg []byte, info *JPEGInfo) error {
	if len(seg) < 6 {
		return fmt.Errorf("JPEG: SOF%d segment of %d bytes, want at least 6", code-0xC0, len(seg))
	}
	nc := int(seg[5])
	if nc == 0 || len(seg) < 6+3*nc {
		return fmt.Errorf("JPEG: SOF%d with %d components in %d bytes", code-0xC0, nc, len(seg))
	}
	kind := code & 3
	process := [4]string{"baseline", "extended sequential", "progressive", "lossless"}[kind]
	if code >= 0xC8 {
		process += ", arithmetic"
	}
	if code&4 != 0 {
		process += ", hierarchical"
	}
	info.Process = process
	info.Precision = int(seg[0])
	info.Height = int(seg[1])<<8 | int(seg[2])
	info.Width = int(seg[3])<<8 | int(seg[4])
	for i := 0; i < nc; i++ {
		c := seg[6+3*i:]
		info.Components = append(info.Components, JPEGComponent{ID: int(c[0]), H: int(c[1] >> 4), V: int(c[1] & 15), Table: int(c[2])})
	}
	return nil
}
