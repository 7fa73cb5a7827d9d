//go:build openblas && cgo

// The entry points of the native kernels: each calls the level nk_select
// chose (the best this CPU runs until told otherwise).
#include "kernels_cgo.h"

static const nk_table *nk_impl = &nk_table_v1;
static int nk_level = NK_GENERIC;

int nk_supported(int level) {
	switch (level) {
	case NK_GENERIC:
		return 1;
#if defined(__x86_64__)
	case NK_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
	case NK_AVX512:
		__builtin_cpu_init();
		return nk_supported(NK_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
	}
	return 0;
}

int nk_select(int level) {
	if (!nk_supported(level)) return -1;
	switch (level) {
#if defined(__x86_64__)
	case NK_AVX512: nk_impl = &nk_table_v4; break;
	case NK_AVX2: nk_impl = &nk_table_v3; break;
#endif
	default: nk_impl = &nk_table_v1; break;
	}
	nk_level = level;
	return 0;
}

int nk_selected(void) { return nk_level; }

void nk_scale_shift(const float *x, float *y, long n, float a, float b, int relu) { nk_impl->scale_shift(x, y, n, a, b, relu); }
void nk_scale_shift_inplace(float *x, long n, float a, float b, int relu) { nk_impl->scale_shift_inplace(x, n, a, b, relu); }
void nk_moments(const float *x, long n, double *mean, double *var) { nk_impl->moments(x, n, mean, var); }
void nk_bn_grad_sums(const float *x, const float *dy, long n, float mean, float invstd, float a, float b, int relu, double *sum_g, double *sum_gx) {
	nk_impl->bn_grad_sums(x, dy, n, mean, invstd, a, b, relu, sum_g, sum_gx);
}
void nk_bn_grad_input_add(const float *x, const float *dy, const float *src, float *dst, long n, float mean, float invstd, float a, float b, float k, float c1, float c2, int act) {
	nk_impl->bn_grad_input_add(x, dy, src, dst, n, mean, invstd, a, b, k, c1, c2, act);
}
void nk_bn_grad_input(const float *x, const float *dy, float *dx, long n, float mean, float invstd, float a, float b, float k, float c1, float c2, int relu) {
	nk_impl->bn_grad_input(x, dy, dx, n, mean, invstd, a, b, k, c1, c2, relu);
}
void nk_im2col(const float *x, const nk_geom *g, long n0, long n1, float *col) { nk_impl->im2col(x, g, n0, n1, col); }
void nk_col2im(const float *col, const nk_geom *g, long n0, long n1, float *dx) { nk_impl->col2im(col, g, n0, n1, dx); }
void nk_maxpool2(const float *x, float *y, int *argmax, long planes, long h, long w) { nk_impl->maxpool2(x, y, argmax, planes, h, w); }
void nk_conv3x3_direct(const float *x, const float *w, const nk_geom *g, long cout, long n0, long n1, float *y, long ldy, const float *a, const float *b, int relu) {
	nk_impl->conv3x3_direct(x, w, g, cout, n0, n1, y, ldy, a, b, relu);
}
void nk_to_blocked(const float *x, long C, long N, long HW, long B, long t0, long t1, float *y) { nk_impl->to_blocked(x, C, N, HW, B, t0, t1, y); }
void nk_from_blocked(const float *y, long C, long N, long HW, long B, long t0, long t1, float *x) { nk_impl->from_blocked(y, C, N, HW, B, t0, t1, x); }

double nk_fma_peak(long iters) { return nk_impl->fma_peak(iters); }
void nk_pw_tile(long *mr, long *nr) { nk_impl->pw_tile(mr, nr); }
void nk_pw_pack_a(const float *w, long m, long k, long rs, long cs, float *ap) { nk_impl->pw_pack_a(w, m, k, rs, cs, ap); }
void nk_pw_pack_b(const float *x, long ld, long k, long p0, long p1, const float *a, const float *b, int act, float *bp) {
	nk_impl->pw_pack_b(x, ld, k, p0, p1, a, b, act, bp);
}
void nk_pw_gemm(const float *ap, const float *bp, long m, long n, long k, float *y, long ldy, int stream) { nk_impl->pw_gemm(ap, bp, m, n, k, y, ldy, stream); }
void nk_pw_conv3x3(const float *x, const float *a, const float *b, int act, const float *ap, const nk_geom *g, long cout, long n0, long n1, float *y, long ldy) {
	nk_impl->pw_conv3x3(x, a, b, act, ap, g, cout, n0, n1, y, ldy);
}
int nk_pw_conv3x3_wgrad(const float *x, const float *a, const float *b, int act, const float *dy, const nk_geom *g, long cout, long n0, long n1, float *dw) {
	return nk_impl->pw_conv3x3_wgrad(x, a, b, act, dy, g, cout, n0, n1, dw);
}
long nk_pw_wgrad_len(long m, long k, long n) { return nk_impl->pw_wgrad_len(m, k, n); }
void nk_pw_wgrad(const float *dy, long ldy, long m, const float *x, long ld, long k, long p0, long p1, const float *a, const float *b, int act, float *t, float *dw) {
	nk_impl->pw_wgrad(dy, ldy, m, x, ld, k, p0, p1, a, b, act, t, dw);
}
