// Package baselines holds the OOD detectors the MCD paper compares against,
// and later ones, one file each; each registers itself with package ood from
// init. Import it for its side effects:
//
//	import _ "github.com/mcdood/mcdood/baselines"
package baselines
