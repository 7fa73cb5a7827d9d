package results

import (
	"errors"
	"fmt"
	"strings"
)

// maxFileName bounds a mapped key, leaving room for an extension and the
// atomic writer's temporary suffix under the usual 255-byte limit.
const maxFileName = 200

// FileName maps a cell key to the file name (without extension) under which
// the store keeps it. Lower-case ASCII letters, digits, '-', '_' and '.'
// (except a leading '.') stand for themselves; every other byte becomes
// %XX, its value in upper-case hexadecimal, as in URL encoding. So keys may
// hold '/', '=', spaces or capitals; the names never collide on
// case-insensitive file systems (capitals only appear in escapes), never
// start with '.', and KeyOf inverts the mapping. Keys of the experiment plan
// ("cifar10_densenet-bc-100_isun_mcd_transductive_s1_1a2b3c4d") map to
// themselves.
func FileName(key string) (string, error) {
	if key == "" {
		return "", errors.New("results: empty cell key")
	}
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if plainByte(c) && !(i == 0 && c == '.') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	if b.Len() > maxFileName {
		return "", fmt.Errorf("results: cell key %q is too long for a file name (%d bytes once escaped, at most %d)",
			key, b.Len(), maxFileName)
	}
	return b.String(), nil
}

func plainByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// KeyOf inverts FileName. Names FileName would not produce (lower-case hex,
// a needless escape, a bad escape) are errors, so that every key has exactly
// one file.
func KeyOf(name string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '%' {
			if !plainByte(c) || (i == 0 && c == '.') {
				return "", fmt.Errorf("file name %q: byte %q at %d is not allowed unescaped", name, c, i)
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(name) || !upperHex(name[i+1]) || !upperHex(name[i+2]) {
			return "", fmt.Errorf("file name %q: bad escape at %d (want %%XX, upper-case hexadecimal)", name, i)
		}
		v := unhex(name[i+1])<<4 | unhex(name[i+2])
		if plainByte(v) && !(i == 0 && v == '.') {
			return "", fmt.Errorf("file name %q: %s at %d escapes %q, which is written as itself", name, name[i:i+3], i, v)
		}
		b.WriteByte(v)
		i += 2
	}
	if b.Len() == 0 {
		return "", errors.New("empty file name")
	}
	return b.String(), nil
}

func upperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}
