package setting

import (
	"testing"

	"github.com/mcdood/mcdood/loaders"
)

func images(name string, n int, fill byte) *loaders.Dataset {
	d := &loaders.Dataset{Name: name, Pixels: make([]byte, n*loaders.ImageBytes)}
	for i := 0; i < n; i++ {
		d.Image(i)[0] = fill + byte(i)
	}
	return d
}

func TestSettingsPools(t *testing.T) {
	id, out, other := images("id", 10, 0), images("ood", 6, 100), images("other", 4, 200)
	pool, idS, oodS, err := Transductive.Pool(id, out, nil, 3)
	if err != nil || pool.Len() != 16 || idS != id || oodS != out {
		t.Fatalf("transductive: pool %d, %v", pool.Len(), err)
	}
	pool, idS, oodS, err = Disjoint.Pool(id, out, nil, 3)
	if err != nil || pool.Len() != 5+3 || idS.Len() != 5 || oodS.Len() != 3 {
		t.Fatalf("disjoint: pool %d, id %d, ood %d, %v", pool.Len(), idS.Len(), oodS.Len(), err)
	}
	// No scored image is in the pool.
	seen := map[byte]bool{}
	for i := 0; i < pool.Len(); i++ {
		seen[pool.Image(i)[0]] = true
	}
	for _, d := range []*loaders.Dataset{idS, oodS} {
		for i := 0; i < d.Len(); i++ {
			if seen[d.Image(i)[0]] {
				t.Fatalf("disjoint: scored image %d of %s is in the unlabelled pool", i, d.Name)
			}
		}
	}
	pool, _, oodS, err = Cross.Pool(id, out, other, 3)
	if err != nil || pool.Len() != 14 || oodS != out || pool.Image(10)[0] != 200 {
		t.Fatalf("cross: pool %d, %v", pool.Len(), err)
	}
	if _, _, _, err := Cross.Pool(id, out, nil, 3); err == nil {
		t.Fatal("cross without another set accepted")
	}
	if _, err := Parse("inductive"); err == nil {
		t.Fatal("unknown setting accepted")
	}
}

func TestDescribe(t *testing.T) {
	for _, s := range All {
		if d := s.Describe(); len(d) <= len(s)+2 || d[:len(s)+2] != string(s)+": " {
			t.Errorf("%s: %q does not start with the name", s, d)
		}
	}
	if Setting("mine").Describe() != "mine" {
		t.Error("an unknown setting is not described by its name")
	}
}
