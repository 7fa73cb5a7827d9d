package baselines

import (
	"testing"

	"github.com/mcdood/mcdood/ood"
	"github.com/mcdood/mcdood/ood/oodtest"
)

// stricterAUROC raises the conformance bar for detectors that should solve
// the toy problem outright; every other detector must beat chance.
var stricterAUROC = map[string]float64{"mahalanobis": 0.95}

// toyConfig adapts the defaults of detectors that cannot run on the toy's
// three classes as they are.
var toyConfig = map[string]func(cfg any){
	"eloc": func(cfg any) { cfg.(*ELOCConfig).Folds = 3 }, // one class left out per classifier
}

// Every detector registered by this package passes the conformance check on
// the toy problem: a new baseline file is tested without editing this one.
func TestConformance(t *testing.T) {
	names := ood.Names()
	for _, want := range []string{"msp", "odin", "energy", "mahalanobis", "eloc"} {
		if _, err := ood.Lookup(want); err != nil {
			t.Errorf("%s is not registered: %v", want, err)
		}
	}
	for _, name := range names {
		minAUROC := 0.5
		if v, ok := stricterAUROC[name]; ok {
			minAUROC = v
		}
		var cfg any
		if adapt, ok := toyConfig[name]; ok {
			reg, _ := ood.Lookup(name)
			cfg = reg.NewConfig()
			adapt(cfg)
		}
		t.Run(name, func(t *testing.T) { oodtest.Conformance(t, name, cfg, minAUROC) })
	}
}
