package torchfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// scanPickle walks the opcodes of the pickle at the start of b, as Python's
// pickletools.genops does, without building anything, and returns its
// length (through STOP). It exists for one reason: gopickle allocates the
// length an opcode claims (BINBYTES8, BINUNICODE, a FRAME …) before reading
// it, so a damaged length could make it allocate gigabytes; every length is
// checked here against the bytes that remain first.
func scanPickle(b []byte) (int, error) {
	i := 0
	need := func(n uint64) error {
		if n > uint64(len(b)-i) {
			return fmt.Errorf("opcode at byte %d needs %d bytes, %d remain (truncated or damaged)", i, n, len(b)-i)
		}
		return nil
	}
	line := func() error {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return fmt.Errorf("opcode at byte %d: line without an end (truncated or damaged)", i)
		}
		i += j + 1
		return nil
	}
	// lenArg skips a w-byte little-endian length and that many bytes.
	lenArg := func(w int) error {
		if err := need(uint64(w)); err != nil {
			return err
		}
		var n uint64
		switch w {
		case 1:
			n = uint64(b[i])
		case 4:
			n = uint64(binary.LittleEndian.Uint32(b[i:]))
		case 8:
			n = binary.LittleEndian.Uint64(b[i:])
		}
		i += w
		if err := need(n); err != nil {
			return err
		}
		i += int(n)
		return nil
	}
	for i < len(b) {
		op := b[i]
		i++
		var err error
		switch op {
		case '.': // STOP
			return i, nil
		case '(', '0', '1', '2', 'N', ')', ']', '}', 'a', 'b', 'd', 'e', 'l', 'o', 's', 't', 'u', 'R', 'Q',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
			// no argument
		case 'K', 'q', 'h', 0x80, 0x82: // BININT1, BINPUT, BINGET, PROTO, EXT1
			err = need(1)
			i++
		case 'M', 0x83: // BININT2, EXT2
			err = need(2)
			i += 2
		case 'J', 'r', 'j', 0x84: // BININT, LONG_BINPUT, LONG_BINGET, EXT4
			err = need(4)
			i += 4
		case 'G': // BINFLOAT
			err = need(8)
			i += 8
		case 0x95: // FRAME: an 8-byte length of what follows, which is opcodes
			err = need(8)
			if err == nil {
				n := binary.LittleEndian.Uint64(b[i:])
				i += 8
				err = need(n)
			}
		case 'U', 'C', 0x8a, 0x8c: // SHORT_BINSTRING, SHORT_BINBYTES, LONG1, SHORT_BINUNICODE
			err = lenArg(1)
		case 'T', 'B', 'X', 0x8b: // BINSTRING, BINBYTES, BINUNICODE, LONG4
			err = lenArg(4)
		case 0x8d, 0x8e, 0x96: // BINUNICODE8, BINBYTES8, BYTEARRAY8
			err = lenArg(8)
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p': // newline-terminated argument
			err = line()
		case 'c', 'i': // GLOBAL, INST: module and name lines
			if err = line(); err == nil {
				err = line()
			}
		default:
			return 0, fmt.Errorf("unknown opcode 0x%02x at byte %d", op, i-1)
		}
		if err != nil {
			return 0, err
		}
		if i > len(b) {
			return 0, fmt.Errorf("opcode 0x%02x runs past the end (truncated)", op)
		}
	}
	return 0, fmt.Errorf("the file ends inside it, before its STOP opcode (truncated)")
}
