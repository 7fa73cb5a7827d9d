package baselines

import (
	"testing"

	"github.com/mcdood/mcdood/ood/oodtest"
)

// Every baseline must pass the conformance check on the toy problem.
func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name     string
		minAUROC float64
	}{{"msp", 0.5}, {"energy", 0.5}, {"odin", 0.5}, {"mahalanobis", 0.95}} {
		t.Run(c.name, func(t *testing.T) { oodtest.Conformance(t, c.name, nil, c.minAUROC) })
	}
}
