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
