// The native kernels of package nets (cgo build). Their contracts are the
// Go reference versions in kernels.go, which the tests compare them with.
//
// Each kernel is compiled once per instruction-set level from one source,
// kernels_body.h: kernels_v4.c (x86-64-v4: AVX-512, with hand-written
// AVX-512 paths for the column and direct-convolution kernels),
// kernels_v3.c (x86-64-v3: AVX2 and FMA, with hand-written AVX2 paths) and
// kernels_v1.c (baseline x86-64, or any other architecture). The nk_*
// entry points call the level chosen by nk_select (kernels_dispatch.c), so
// one machine can run, and the tests check, every level its CPU has.
#include <stddef.h>

typedef struct {
	long C, N, H, W, KH, KW, Stride, Pad, OH, OW;
} nk_geom;

// Activations applied after a batch norm's affine map (nets.Act).
enum { NK_NONE = 0, NK_RELU = 1, NK_GELU = 2 };

// Instruction-set levels, named after the x86-64 micro-architecture levels.
enum { NK_GENERIC = 1, NK_AVX2 = 3, NK_AVX512 = 4 };

// nk_supported reports whether this CPU (and build) can run a level.
int nk_supported(int level);
// nk_select makes the entry points use a supported level; it returns 0, or
// -1 (changing nothing) when the level is not supported.
int nk_select(int level);
// nk_selected is the level in use.
int nk_selected(void);

void nk_scale_shift(const float *x, float *y, long n, float a, float b, int act);
void nk_scale_shift_inplace(float *x, long n, float a, float b, int act);
void nk_moments(const float *x, long n, double *mean, double *var);
void nk_bn_grad_sums(const float *x, const float *dy, long n, float mean, float invstd, float a, float b, int act, double *sum_g, double *sum_gx);
void nk_bn_grad_input(const float *x, const float *dy, float *dx, long n, float mean, float invstd, float a, float b, float k, float c1, float c2, int act);
void nk_bn_grad_input_add(const float *x, const float *dy, const float *src, float *dst, long n, float mean, float invstd, float a, float b, float k, float c1, float c2, int act);
void nk_im2col(const float *x, const nk_geom *g, long n0, long n1, float *col);
void nk_col2im(const float *col, const nk_geom *g, long n0, long n1, float *dx);
void nk_maxpool2(const float *x, float *y, int *argmax, long planes, long h, long w);
void nk_conv3x3_direct(const float *x, const float *w, const nk_geom *g, long cout, long n0, long n1, float *y, long ldy, const float *a, const float *b, int act);
// nk_to_blocked copies tasks [t0, t1) of (C, N, HW) activations x into the
// channel-blocked y (N, ⌈C/B⌉, HW, B), zero past channel C (task n·⌈C/B⌉ + cb:
// block cb of image n); nk_from_blocked copies them back.
void nk_to_blocked(const float *x, long C, long N, long HW, long B, long t0, long t1, float *y);
void nk_from_blocked(const float *y, long C, long N, long HW, long B, long t0, long t1, float *x);

// nk_fma_peak runs the selected level's multiply-add peak loop and returns
// the floating-point operations it did.
double nk_fma_peak(long iters);

// The packed GEMM of 1×1 convolutions (kernels_body.h): nk_pw_tile gives the
// level's register tile, rows × columns; nk_pw_pack_a packs the m × k
// weights (element (i, kk) at w[i·rs + kk·cs]), nk_pw_pack_b columns [p0, p1) of the k rows of x (ld apart),
// mapped as nk_scale_shift does when a is not NULL; nk_pw_gemm writes the
// m × n product into y (rows ldy apart), with stream past the caches where
// it can (non-temporal stores, fenced).
void nk_pw_tile(long *mr, long *nr);
void nk_pw_pack_a(const float *w, long m, long k, long rs, long cs, float *ap);
void nk_pw_pack_b(const float *x, long ld, long k, long p0, long p1, const float *a, const float *b, int act, float *bp);
void nk_pw_gemm(const float *ap, const float *bp, long m, long n, long k, float *y, long ldy, int stream);
// nk_pw_conv3x3 convolves images [n0, n1) of x (C, N, H, W), mapped per
// channel as nk_scale_shift does when a is not NULL, at 3×3, stride 1,
// padding 1 with the cout × 9C weights packed by nk_pw_pack_a, writing
// output channel co of image n at y[co·ldy + n·H·W …].
void nk_pw_conv3x3(const float *x, const float *a, const float *b, int act, const float *ap, const nk_geom *g, long cout, long n0, long n1, float *y, long ldy);
// nk_pw_conv3x3_wgrad writes the weight gradient (cout × C × 3 × 3) of that
// convolution over images [n0, n1) of x (mapped the same way) and dy (cout,
// N, H, W); it returns -1, writing nothing, when the level does not handle
// the width W.
int nk_pw_conv3x3_wgrad(const float *x, const float *a, const float *b, int act, const float *dy, const nk_geom *g, long cout, long n0, long n1, float *dw);
// nk_pw_wgrad adds to dw (m × k) the 1×1 convolution's weight gradient
// dy·x̂ᵀ over columns [p0, p1): dy's m rows ldy apart, x̂ the k rows of x
// (ld apart) mapped as nk_scale_shift does when a is not NULL, packed into
// t (nk_pw_wgrad_len(m, k, p1 − p0) floats).
long nk_pw_wgrad_len(long m, long k, long n);
void nk_pw_wgrad(const float *dy, long ldy, long m, const float *x, long ld, long k, long p0, long p1, const float *a, const float *b, int act, float *t, float *dw);

// nk_table is one level's kernels.
typedef struct {
	void (*scale_shift)(const float *, float *, long, float, float, int);
	void (*scale_shift_inplace)(float *, long, float, float, int);
	void (*moments)(const float *, long, double *, double *);
	void (*bn_grad_sums)(const float *, const float *, long, float, float, float, float, int, double *, double *);
	void (*bn_grad_input)(const float *, const float *, float *, long, float, float, float, float, float, float, float, int);
	void (*bn_grad_input_add)(const float *, const float *, const float *, float *, long, float, float, float, float, float, float, float, int);
	void (*im2col)(const float *, const nk_geom *, long, long, float *);
	void (*col2im)(const float *, const nk_geom *, long, long, float *);
	void (*maxpool2)(const float *, float *, int *, long, long, long);
	void (*conv3x3_direct)(const float *, const float *, const nk_geom *, long, long, long, float *, long, const float *, const float *, int);
	void (*to_blocked)(const float *, long, long, long, long, long, long, float *);
	void (*from_blocked)(const float *, long, long, long, long, long, long, float *);
	double (*fma_peak)(long);
	void (*pw_tile)(long *, long *);
	void (*pw_pack_a)(const float *, long, long, long, long, float *);
	void (*pw_pack_b)(const float *, long, long, long, long, const float *, const float *, int, float *);
	void (*pw_gemm)(const float *, const float *, long, long, long, float *, long, int);
	void (*pw_conv3x3)(const float *, const float *, const float *, int, const float *, const nk_geom *, long, long, long, float *, long);
	int (*pw_conv3x3_wgrad)(const float *, const float *, const float *, int, const float *, const nk_geom *, long, long, long, float *);
	long (*pw_wgrad_len)(long, long, long);
	void (*pw_wgrad)(const float *, long, long, const float *, long, long, long, long, const float *, const float *, int, float *, float *);
} nk_table;

extern const nk_table nk_table_v1;
#if defined(__x86_64__)
extern const nk_table nk_table_v3, nk_table_v4;
#endif
