//go:build openblas && cgo

// The kernels at x86-64-v3 (AVX2, FMA): kernels_body.h compiled for it. This
// is the level a CPU without AVX-512 runs.
#if defined(__x86_64__)
#pragma GCC target("arch=x86-64-v3")
#define NK_LEVEL 3
#define NK_TABLE nk_table_v3
#include "kernels_body.h"
#endif
