package ood

import (
	"context"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/loaders"
)

type constCfg struct {
	Value float64 `toml:"value"`
}

type constant float64

func (c constant) Score(_ context.Context, _ *Env, d *loaders.Dataset) ([]float64, error) {
	s := make([]float64, d.Len())
	for i := range s {
		s[i] = float64(c)
	}
	return s, nil
}

func TestRegistry(t *testing.T) {
	Register("test-constant", "test", constCfg{Value: 2}, func(c constCfg) (Detector, error) { return constant(c.Value), nil })
	r, err := Lookup("test-constant")
	if err != nil {
		t.Fatal(err)
	}
	cfg := r.NewConfig().(*constCfg)
	if cfg.Value != 2 {
		t.Fatalf("default config %+v", cfg)
	}
	cfg.Value = 5
	d, err := r.Build(cfg)
	if err != nil || d.(constant) != 5 {
		t.Fatalf("built %v, %v", d, err)
	}
	if second := r.NewConfig().(*constCfg); second.Value != 2 {
		t.Fatal("NewConfig shares one struct between calls")
	}
	if _, err := r.Build(&struct{}{}); err == nil {
		t.Fatal("Build accepted a foreign configuration")
	}
	_, err = Lookup("no-such")
	if err == nil || !strings.Contains(err.Error(), `unknown detector "no-such" (is its package imported?)`) || !strings.Contains(err.Error(), "test-constant") {
		t.Fatalf("unknown detector error: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering a name twice did not panic")
		}
	}()
	Register("test-constant", "again", constCfg{}, func(c constCfg) (Detector, error) { return constant(0), nil })
}

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
	if _, err := ParseSetting("inductive"); err == nil {
		t.Fatal("unknown setting accepted")
	}
}
