//go:build openblas && cgo

// The kernels at x86-64-v4 (AVX-512): kernels_body.h compiled for it.
#if defined(__x86_64__)
#pragma GCC target("arch=x86-64-v4")
#define NK_LEVEL 4
#define NK_TABLE nk_table_v4
#include "kernels_body.h"
#endif
