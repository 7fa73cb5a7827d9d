package loaders

import (
	"bytes"
	"testing"
)

func TestConcat(t *testing.T) {
	a := &Dataset{Name: "a", Pixels: bytes.Repeat([]byte{1}, 2*ImageBytes), Labels: []int{0, 1}, Classes: 2}
	b := &Dataset{Name: "b", Pixels: bytes.Repeat([]byte{2}, ImageBytes)}
	c := Concat("pool", a, b)
	if c.Name != "pool" || c.Len() != 3 || c.Labels != nil || c.Image(1)[0] != 1 || c.Image(2)[0] != 2 {
		t.Fatalf("Concat: %s, %d images, labels %v", c.Name, c.Len(), c.Labels)
	}
}
