package results

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseScoresLongLine(t *testing.T) {
	_, err := ParseScores("big.txt", strings.NewReader("1\n"+strings.Repeat(" ", MaxScoreLine+10)+"\n"))
	if err == nil || !strings.Contains(err.Error(), "big.txt:2: line longer than") {
		t.Errorf("error %v", err)
	}
}

// FuzzParseScores: any input either fails with a file:line message or
// gives finite scores that read back the same when written one per line.
func FuzzParseScores(f *testing.F) {
	for _, s := range []string{"# ID scores\n3\n2\n2   # a trailing comment\n\n1\n", "\uFEFF2\r\n1\r\n0\r\n", "", "#\n", "1e308\n-0\n", "0x1p-3\n", "1 2\n", "nan\n", "1_0\n", "\n\n3 #x # y\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseScores("f.txt", strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.txt:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		var b strings.Builder
		for _, v := range got {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite score %v from %q", v, in)
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64) + "\n")
		}
		again, err := ParseScores("f.txt", strings.NewReader(b.String()))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip of %v: %v, %v", got, again, err)
		}
	})
}
