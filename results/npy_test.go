package results

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// WriteNPY writes numpy's format 1.0 with the data 64-byte aligned, as
// np.save; ReadNPY reads it back bit for bit, and float32 and big-endian
// arrays too.
func TestNPYRoundTrip(t *testing.T) {
	v := []float64{0.1, -2, math.Pi, 1e-300, 0}
	var b bytes.Buffer
	if err := WriteNPY(&b, v); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	hlen := int(data[8]) | int(data[9])<<8
	header := string(data[10 : 10+hlen])
	if string(data[:8]) != "\x93NUMPY\x01\x00" || (10+hlen)%64 != 0 || !strings.HasPrefix(header, "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }") || header[len(header)-1] != '\n' {
		t.Fatalf("header %q (length %d)", header, hlen)
	}
	got, err := ReadNPY(data)
	if err != nil || len(got) != len(v) {
		t.Fatalf("ReadNPY: %v, %v", got, err)
	}
	for i := range v {
		if math.Float64bits(got[i]) != math.Float64bits(v[i]) {
			t.Errorf("[%d] = %v, want %v", i, got[i], v[i])
		}
	}
	f4 := append([]byte("\x93NUMPY\x01\x00\x46\x00"), []byte("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }")...)
	f4 = append(f4, bytes.Repeat([]byte(" "), 70-len(f4)+10-1)...)
	f4 = append(f4, '\n', 0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0) // 1.0, -2.0 big-endian float32
	if got, err := ReadNPY(f4); err != nil || len(got) != 2 || got[0] != 1 || got[1] != -2 {
		t.Errorf("big-endian float32: %v, %v", got, err)
	}
	for _, bad := range [][]byte{[]byte("NUMPY"), append([]byte("\x93NUMPY\x01\x00\x10\x00"), []byte("{'descr': '<i8'}")...), data[:len(data)-3]} {
		if _, err := ReadNPY(bad); err == nil {
			t.Errorf("ReadNPY accepted %q", bad)
		}
	}
}
