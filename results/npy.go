package results

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The codecs of score files (ExportScores): numpy's .npy and .npz for 1-D
// float arrays, and the "set,score" CSV table.

// WriteNPY writes v as a numpy .npy file (format 1.0): a 1-D little-endian
// float64 array.
func WriteNPY(w io.Writer, v []float64) error {
	header := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }", len(v))
	// Magic, version and length take 10 bytes; numpy pads the header with
	// spaces and a newline so that the data starts at a multiple of 64.
	pad := 64 - (10+len(header)+1)%64
	if pad == 64 {
		pad = 0
	}
	header += strings.Repeat(" ", pad) + "\n"
	buf := bufio.NewWriter(w)
	buf.WriteString("\x93NUMPY\x01\x00")
	binary.Write(buf, binary.LittleEndian, uint16(len(header)))
	buf.WriteString(header)
	for _, x := range v {
		binary.Write(buf, binary.LittleEndian, math.Float64bits(x))
	}
	return buf.Flush()
}

var npyShape = regexp.MustCompile(`'shape':\s*\((\d+),\s*\)`)

// ReadNPY reads a 1-D numpy array of float64 or float32 (either byte order)
// from an .npy file's bytes.
func ReadNPY(data []byte) ([]float64, error) {
	if len(data) < 10 || string(data[:6]) != "\x93NUMPY" {
		return nil, errors.New("not a .npy file (no \\x93NUMPY magic)")
	}
	var hlen, off int
	switch data[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(data[8:])), 10
	case 2, 3:
		if len(data) < 12 {
			return nil, errors.New(".npy header truncated")
		}
		hlen, off = int(binary.LittleEndian.Uint32(data[8:])), 12
	default:
		return nil, fmt.Errorf(".npy format version %d.%d", data[6], data[7])
	}
	if off+hlen > len(data) {
		return nil, errors.New(".npy header truncated")
	}
	header := string(data[off : off+hlen])
	body := data[off+hlen:]
	if strings.Contains(header, "'fortran_order': True") && !npyShape.MatchString(header) {
		return nil, errors.New(".npy: a Fortran-order array that is not 1-D")
	}
	m := npyShape.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf(".npy: want a 1-D array, header %q", strings.TrimSpace(header))
	}
	n, nerr := strconv.Atoi(m[1])
	var size int
	var order binary.ByteOrder
	switch {
	case strings.Contains(header, "'<f8'"):
		size, order = 8, binary.LittleEndian
	case strings.Contains(header, "'>f8'"):
		size, order = 8, binary.BigEndian
	case strings.Contains(header, "'<f4'"):
		size, order = 4, binary.LittleEndian
	case strings.Contains(header, "'>f4'"):
		size, order = 4, binary.BigEndian
	default:
		return nil, fmt.Errorf(".npy: want float64 or float32 values, header %q", strings.TrimSpace(header))
	}
	if nerr != nil || n > len(body)/size || len(body) != n*size {
		return nil, fmt.Errorf(".npy: %d bytes of data for %s values of %d bytes", len(body), m[1], size)
	}
	v := make([]float64, n)
	for i := range v {
		if size == 8 {
			v[i] = math.Float64frombits(order.Uint64(body[8*i:]))
		} else {
			v[i] = float64(math.Float32frombits(order.Uint32(body[4*i:])))
		}
	}
	return v, nil
}

// WriteNPZ writes arrays (in the order of names) as a numpy .npz archive,
// one NAME.npy member each, uncompressed as np.savez does.
func WriteNPZ(w io.Writer, arrays map[string][]float64, names []string) error {
	z := zip.NewWriter(w)
	for _, name := range names {
		f, err := z.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
		if err != nil {
			return err
		}
		if err := WriteNPY(f, arrays[name]); err != nil {
			return err
		}
	}
	return z.Close()
}

// maxNPYBytes bounds one member of an .npz file as it is decompressed, so
// that a small archive cannot ask for much memory: 2^27 float64 values.
const maxNPYBytes = 1 << 30

// ReadNPZ reads the 1-D float arrays of an .npz archive, by member name
// without ".npy". Each member may decompress to at most 1 GiB.
func ReadNPZ(data []byte) (map[string][]float64, error) {
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("not an .npz file: %w", err)
	}
	out := map[string][]float64{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxNPYBytes+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if len(b) > maxNPYBytes {
			return nil, fmt.Errorf("%s: more than %d bytes decompressed", f.Name, maxNPYBytes)
		}
		v, err := ReadNPY(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		out[strings.TrimSuffix(f.Name, ".npy")] = v
	}
	return out, nil
}

// WriteScoresCSV writes the header "set,score" and one row per score.
func WriteScoresCSV(w io.Writer, id, ood []float64) error {
	c := csv.NewWriter(w)
	c.Write([]string{"set", "score"})
	for _, s := range []struct {
		name string
		v    []float64
	}{{"id", id}, {"ood", ood}} {
		for _, x := range s.v {
			c.Write([]string{s.name, strconv.FormatFloat(x, 'g', 17, 64)})
		}
	}
	c.Flush()
	return c.Error()
}

// ReadScoresCSV reads a "set,score" table (WriteScoresCSV's): the header,
// then rows of id or ood and a finite number, at least one of each set;
// errors name the line.
func ReadScoresCSV(r io.Reader) (id, ood []float64, err error) {
	c := csv.NewReader(r)
	c.FieldsPerRecord = 2
	head, err := c.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("line 1: %w", err)
	}
	if head[0] != "set" || head[1] != "score" {
		return nil, nil, fmt.Errorf("line 1: header %q, want \"set,score\"", strings.Join(head, ","))
	}
	for line := 2; ; line++ {
		row, err := c.Read()
		if err == io.EOF {
			for _, set := range []struct {
				name string
				v    []float64
			}{{"id", id}, {"ood", ood}} {
				if len(set.v) == 0 {
					return nil, nil, fmt.Errorf("no %s rows (want rows of set id and of set ood)", set.name)
				}
			}
			return id, ood, nil
		}
		if err != nil {
			return nil, nil, err
		}
		x, perr := strconv.ParseFloat(row[1], 64)
		if perr != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, nil, fmt.Errorf("line %d: score %q is not a finite number", line, row[1])
		}
		switch row[0] {
		case "id":
			id = append(id, x)
		case "ood":
			ood = append(ood, x)
		default:
			return nil, nil, fmt.Errorf("line %d: set %q, want id or ood", line, row[0])
		}
	}
}
