package loaders

import (
	"bytes"
	"strings"
	"testing"
)

// A data pass's reports: an OOD set opened with two seeds is named with
// its seed and warns once; the cells column is shown, the split columns
// (which only Check fills) are not; a missing file with no fetch name says
// so in its row only.
func TestWriteReportsDataPass(t *testing.T) {
	root := "/data"
	reports := []Report{
		{Name: "cifar10", Role: RoleID, Status: Ready, Train: 500, Test: 200, Cells: 4, Source: "/data/cifar-10-batches-bin"},
		{Name: "isun", Role: RoleOOD, Seed: 1, Status: Ready, Test: 150, Cells: 2, Source: "/data/iSUN.tar.gz", Warnings: []string{"1 image link skipped"}},
		{Name: "isun", Role: RoleOOD, Seed: 2, Status: Ready, Test: 150, Cells: 2, Source: "/data/iSUN.tar.gz", Warnings: []string{"1 image link skipped"}},
		{Name: "lsun-crop", Role: RoleOOD, Seed: 1, Status: Missing, Fetch: "lsun-crop", Cells: 2, Problem: "get it with: " + FetchCommand(root, "lsun-crop")},
		{Name: "net", Role: RoleWeights, Status: Missing, Cells: 4, Problem: "no file at /w.pth"},
		{Name: "mine", Role: RoleOOD, Seed: 1, Status: Broken, Cells: 2, Problem: "/data/mine: no images"},
	}
	var b bytes.Buffer
	if err := WriteReports(&b, root, reports); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"│ set ", "│ role ", "│ status ", "│ train ", "│ test ", "│ cells ", "│ source or problem ",
		"│ isun (seed 2) ", "│ ok, 1 warning(s) ", "│ iSUN.tar.gz ", "│ cifar-10-batches-bin ",
		"│ no file at /w.pth ", "│ broken ", "/data/mine: no images",
		"\nisun: warning: 1 image link skipped\nmissing: lsun-crop; get them with: mcdood data fetch --data /data lsun-crop\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q", want)
		}
	}
	for _, not := range []string{"│ val ", "split test", "derived:"} {
		if strings.Contains(out, not) {
			t.Errorf("output contains %q", not)
		}
	}
}

// Check's reports: the split columns and their note are shown, the cells
// column is not; the derived sets are named.
func TestWriteReportsCheck(t *testing.T) {
	reports := []Report{
		{Name: "tinyimagenet-crop", Role: RoleOOD, Status: Ready, Test: 10000, Val: 1000, SplitTest: 9000, Source: "/d/tiny-imagenet-200", Note: "derived: x", FromTiny: true},
		{Name: "tinyimagenet-crop-fix", Role: RoleOOD, Status: Ready, Test: 10000, Val: 1000, SplitTest: 9000, Source: "/d/tiny-imagenet-200", Note: "derived: y", FromTiny: true},
	}
	var b bytes.Buffer
	if err := WriteReports(&b, "/d", reports); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"│ val ", "│ split test ", "│ tiny-imagenet-200 (derived: x) ", "val, split test: the paper's split",
		"derived: tinyimagenet-crop built from", "derived: tinyimagenet-crop-fix, the clean FIX twins"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "cells") || strings.Contains(out, "│ train ") || strings.Contains(out, "missing") {
		t.Errorf("output:\n%s", out)
	}
}
