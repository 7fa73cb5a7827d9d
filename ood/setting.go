package ood

import "github.com/mcdood/mcdood/ood/setting"

// Setting says which images form MCD's unlabelled pool and which are
// scored; its Pool method makes that pool. Defined in ood/setting, a leaf
// that results imports too.
type Setting = setting.Setting

// The settings (ood/setting).
const (
	Transductive = setting.Transductive // the paper's
	Disjoint     = setting.Disjoint
	Cross        = setting.Cross
)

// ParseSetting reads a setting name (setting.Parse).
func ParseSetting(s string) (Setting, error) { return setting.Parse(s) }
