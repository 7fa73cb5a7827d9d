package loaders

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// indexed is a labelled set of n images whose image i has every byte i%256
// and label i%classes, with sources "img-i".
func indexed(n, classes int) *Dataset {
	d := &Dataset{Name: "ix", Pixels: make([]byte, n*ImageBytes), Labels: make([]int, n), Classes: classes, Sources: make([]string, n)}
	for i := 0; i < n; i++ {
		img := d.Image(i)
		for k := range img {
			img[k] = byte(i)
		}
		d.Labels[i] = i % classes
		d.Sources[i] = fmt.Sprintf("img-%d", i)
	}
	return d
}

func TestSplit(t *testing.T) {
	// np.random.seed(3); np.random.permutation(10) = [5 4 1 2 9 6 7 0 3 8]
	d := indexed(10, 3)
	val, test, err := Split(d, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	wantVal, wantTest := []int{5, 4, 1, 2}, []int{9, 6, 7, 0, 3, 8}
	for _, x := range []struct {
		s    *Dataset
		want []int
		name string
	}{{val, wantVal, "ix/val"}, {test, wantTest, "ix/test"}} {
		if x.s.Name != x.name || x.s.Len() != len(x.want) || x.s.Classes != 3 {
			t.Fatalf("%s: %d images, name %q", x.name, x.s.Len(), x.s.Name)
		}
		for j, i := range x.want {
			if x.s.Image(j)[100] != byte(i) || x.s.Labels[j] != i%3 || x.s.Sources[j] != fmt.Sprintf("img-%d", i) {
				t.Errorf("%s[%d] is not image %d", x.name, j, i)
			}
		}
	}
	// The paper's split of a 10,000-image set: 1,000 + 9,000, the first
	// validation image being permutation(10000)[0] = 5876.
	big := indexed(10000, 10)
	val, test, err = Split(big, PaperValImages, PaperSplitSeed)
	if err != nil || val.Len() != 1000 || test.Len() != 9000 {
		t.Fatalf("paper split: %v", err)
	}
	if val.Sources[0] != "img-5876" || val.Sources[1] != "img-6555" || test.Sources[8999] != "img-5994" {
		t.Errorf("paper split starts %q %q, ends %q", val.Sources[0], val.Sources[1], test.Sources[8999])
	}
	// Every image lands in exactly one half.
	seen := map[string]int{}
	for _, s := range append(append([]string{}, val.Sources...), test.Sources...) {
		seen[s]++
	}
	if len(seen) != 10000 {
		t.Errorf("%d distinct images after the split", len(seen))
	}
}

func TestSplitUnlabelled(t *testing.T) {
	d := &Dataset{Name: "u", Pixels: make([]byte, 3*ImageBytes)}
	val, test, err := Split(d, 3, 0)
	if err != nil || val.Len() != 3 || test.Len() != 0 || val.Labels != nil || val.Sources != nil {
		t.Fatalf("%v %v %v", val, test, err)
	}
}

func TestSplitTooSmall(t *testing.T) {
	_, _, err := Split(indexed(999, 10), 1000, 3)
	if err == nil || !strings.Contains(err.Error(), "999 images, want at least 1000") {
		t.Fatalf("error %v", err)
	}
	if _, _, err := Split(indexed(5, 1), -1, 3); err == nil {
		t.Error("negative nVal accepted")
	}
}

func TestSubsetKeepsOrder(t *testing.T) {
	d := indexed(5, 2)
	s := d.Subset("s", []int{4, 0, 4})
	if !reflect.DeepEqual(s.Labels, []int{0, 0, 0}) || s.Image(0)[0] != 4 || s.Image(1)[0] != 0 || s.Image(2)[0] != 4 {
		t.Errorf("subset %v", s.Labels)
	}
}
