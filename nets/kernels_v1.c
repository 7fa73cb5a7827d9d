//go:build openblas && cgo

// The kernels at the architecture's baseline (x86-64: SSE2; or arm64, …):
// kernels_body.h compiled with the default target.
#define NK_LEVEL 1
#define NK_TABLE nk_table_v1
#include "kernels_body.h"
