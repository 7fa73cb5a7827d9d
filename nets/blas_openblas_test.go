//go:build openblas && cgo

package nets

import (
	"os"
	"regexp"
	"runtime"
	"strconv"
	"testing"
)

// TestAMDFamily checks the CPUID family that chooses OpenBLAS's kernels on
// AVX-512 CPUs (autoCore) against the kernel's reading in
// /proc/cpuinfo: the family on an AMD CPU, -1 on any other.
func TestAMDFamily(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "386") {
		t.Skip("/proc/cpuinfo's x86 fields are read on Linux x86 only")
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	vendor := regexp.MustCompile(`(?m)^vendor_id\s*:\s*(\S+)`).FindSubmatch(info)
	family := regexp.MustCompile(`(?m)^cpu family\s*:\s*(\d+)`).FindSubmatch(info)
	if vendor == nil || family == nil {
		t.Fatalf("/proc/cpuinfo has no vendor_id or cpu family line")
	}
	want := -1
	if string(vendor[1]) == "AuthenticAMD" {
		want, _ = strconv.Atoi(string(family[1]))
	}
	if got := amdFamily(); got != want {
		t.Errorf("amdFamily() = %d, /proc/cpuinfo says vendor %s family %s (want %d)", got, vendor[1], family[1], want)
	}
}
