// The kernels of one instruction-set level (see kernels_cgo.h): included by
// kernels_v4.c, kernels_v3.c and kernels_v1.c, each of which defines NK_LEVEL
// and NK_TABLE and sets the compiler's target before including this file.
// Every function here is static; the level's table (at the end) is what the
// dispatcher sees. The loops are plain C that the compiler vectorises for
// the level; where a level has hand-written intrinsics for a kernel they
// sit beside the loop under #if NK_LEVEL == ..., sum in the loop's order
// wherever the loop's floats must be kept, and are tested against the same
// Go reference.
#include "kernels_cgo.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if NK_LEVEL > 1
#include <immintrin.h>
#endif

// Reassociating float sums lets the compiler vectorise the reductions; the
// sums are blocked (BLOCK floats, then a double) to keep them accurate. The
// flags are set here because cgo does not accept them in #cgo CFLAGS.
#pragma GCC optimize("O3", "no-math-errno", "no-trapping-math", "associative-math", "no-signed-zeros")

#define BLOCK 2048 // floats summed in single precision before adding into a double

// prefetch_plane asks for the n floats at p to be brought into the L1 cache
// (write: for writing). The column kernels walk planes N planes apart in the
// (C, N, H, W) layout, each in another page, where the hardware prefetcher
// stops; they fetch the next plane while working on the current one.
static inline void prefetch_plane(const float *p, long n, int write) {
	for (long i = 0; i < n; i += 16) {
		if (write)
			__builtin_prefetch(p + i, 1, 3);
		else
			__builtin_prefetch(p + i, 0, 3);
	}
}

// next_plane is the input plane after (c, n) when walking channels, then
// images n0..n1 within a channel; NULL after the last one.
static inline const float *next_plane(const float *x, const nk_geom *g, long c, long n, long n0, long n1) {
	if (n + 1 < n1) return x + (c * g->N + n + 1) * g->H * g->W;
	if (c + 1 < g->C) return x + ((c + 1) * g->N + n0) * g->H * g->W;
	return NULL;
}

// nk_exp is e^x for x ≥ −87 (smaller x give about e^−87, which only ever
// multiplies a far smaller number here), in branch-free arithmetic the
// compiler vectorises: x = n·ln 2 + r with |r| ≤ ln 2 / 2, Cephes's
// polynomial for e^r (relative error below 2e-7), and 2^n built in the
// exponent bits.
static inline float nk_exp(float x) {
	x = x < -87.0f ? -87.0f : x; // not fmaxf/fminf: their NaN rules stop the vectoriser
	x = x > 88.0f ? 88.0f : x;
	const float fn = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
	float r = x - fn * 0.693359375f;
	r = r - fn * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	const int bits = ((int)fn + 127) << 23;
	float scale;
	__builtin_memcpy(&scale, &bits, sizeof scale);
	return p * scale;
}

// The GELU u·Φ(u) = u/2·(1 + erf(u/√2)) (Hendrycks & Gimpel, 2016; PyTorch's
// exact nn.GELU), with erf from Abramowitz & Stegun 7.1.26 (absolute error
// below 1.5e-7): GELU_PARTS sets cdf = Φ(u) and e = e^(−u²/2).
#define GELU_PARTS(u)                                                         \
	const float x_ = (u) * 0.70710678118654752f, ax_ = __builtin_fabsf(x_);      \
	const float t_ = 1.0f / (1.0f + 0.3275911f * ax_);                           \
	const float e = nk_exp(-ax_ * ax_);                                           \
	float poly_ = 1.061405429f;                                                   \
	poly_ = poly_ * t_ - 1.453152027f;                                            \
	poly_ = poly_ * t_ + 1.421413741f;                                            \
	poly_ = poly_ * t_ - 0.284496736f;                                            \
	poly_ = poly_ * t_ + 0.254829592f;                                            \
	const float cdf = 0.5f * (1.0f + __builtin_copysignf(1.0f - poly_ * t_ * e, x_))

// nk_gelu is the GELU of u.
static inline float nk_gelu(float u) {
	GELU_PARTS(u);
	(void)e;
	return u * cdf;
}

// nk_gelu_grad is the GELU's derivative at u, Φ(u) + u·φ(u).
static inline float nk_gelu_grad(float u) {
	GELU_PARTS(u);
	return cdf + u * 0.39894228040143268f * e;
}

static void scale_shift(const float *restrict x, float *restrict y, long n, float a, float b, int act) {
	switch (act) {
	case NK_RELU:
		for (long i = 0; i < n; i++) {
			float v = a * x[i] + b;
			y[i] = v > 0 ? v : 0;
		}
		break;
	case NK_GELU:
		for (long i = 0; i < n; i++) y[i] = nk_gelu(a * x[i] + b);
		break;
	default:
		for (long i = 0; i < n; i++) y[i] = a * x[i] + b;
	}
}

// In place: y = x.
static void scale_shift_inplace(float *x, long n, float a, float b, int act) {
	switch (act) {
	case NK_RELU:
		for (long i = 0; i < n; i++) {
			float v = a * x[i] + b;
			x[i] = v > 0 ? v : 0;
		}
		break;
	case NK_GELU:
		for (long i = 0; i < n; i++) x[i] = nk_gelu(a * x[i] + b);
		break;
	default:
		for (long i = 0; i < n; i++) x[i] = a * x[i] + b;
	}
}

static void moments(const float *restrict x, long n, double *mean, double *var) {
	double s = 0;
	for (long i0 = 0; i0 < n; i0 += BLOCK) {
		long i1 = i0 + BLOCK < n ? i0 + BLOCK : n;
		float bs = 0;
		for (long i = i0; i < i1; i++) bs += x[i];
		s += bs;
	}
	double m = s / (double)n;
	float mf = (float)m;
	double q = 0;
	for (long i0 = 0; i0 < n; i0 += BLOCK) {
		long i1 = i0 + BLOCK < n ? i0 + BLOCK : n;
		float bq = 0;
		for (long i = i0; i < i1; i++) {
			float d = x[i] - mf;
			bq += d * d;
		}
		q += bq;
	}
	*mean = m;
	*var = q / (double)n;
}

static void bn_grad_sums(const float *restrict x, const float *restrict dy, long n, float mean, float invstd, float a, float b, int act, double *sum_g, double *sum_gx) {
	double sg = 0, sgx = 0;
	for (long i0 = 0; i0 < n; i0 += BLOCK) {
		long i1 = i0 + BLOCK < n ? i0 + BLOCK : n;
		float bg = 0, bgx = 0;
		switch (act) {
		case NK_RELU:
			for (long i = i0; i < i1; i++) {
				float g = a * x[i] + b > 0 ? dy[i] : 0;
				bg += g;
				bgx += g * (x[i] - mean);
			}
			break;
		case NK_GELU:
			for (long i = i0; i < i1; i++) {
				float g = dy[i] * nk_gelu_grad(a * x[i] + b);
				bg += g;
				bgx += g * (x[i] - mean);
			}
			break;
		default:
			for (long i = i0; i < i1; i++) {
				bg += dy[i];
				bgx += dy[i] * (x[i] - mean);
			}
		}
		sg += bg;
		sgx += bgx;
	}
	*sum_g = sg;
	*sum_gx = sgx * invstd;
}

static void bn_grad_input(const float *restrict x, const float *restrict dy, float *restrict dx, long n, float mean, float invstd, float a, float b, float k, float c1, float c2, int act) {
	float s = invstd * c2;
	switch (act) {
	case NK_RELU:
		for (long i = 0; i < n; i++) {
			float g = a * x[i] + b > 0 ? dy[i] : 0;
			dx[i] = k * (g - c1 - (x[i] - mean) * s);
		}
		break;
	case NK_GELU:
		for (long i = 0; i < n; i++) dx[i] = k * (dy[i] * nk_gelu_grad(a * x[i] + b) - c1 - (x[i] - mean) * s);
		break;
	default:
		for (long i = 0; i < n; i++) dx[i] = k * (dy[i] - c1 - (x[i] - mean) * s);
	}
}

// bn_grad_input_chunk is bn_grad_input kept out of line, so that
// bn_grad_input_add's sums cannot be contracted into its arithmetic.
static __attribute__((noinline)) void bn_grad_input_chunk(const float *restrict x, const float *restrict dy, float *restrict dx, long n, float mean, float invstd, float a, float b, float k, float c1, float c2, int act) {
	bn_grad_input(x, dy, dx, n, mean, invstd, a, b, k, c1, c2, act);
}

// bn_grad_input_add writes into dst src plus what bn_grad_input writes
// into dx, the same floats, a cache-sized chunk at a time: one pass over
// the sum in memory instead of writing dx and reading it back. src may be
// dst (adding in place), or another buffer, which saves copying it first.
static void bn_grad_input_add(const float *restrict x, const float *restrict dy, const float *src, float *dst, long n, float mean, float invstd, float a, float b, float k, float c1, float c2, int act) {
	float tmp[1024];
	for (long i0 = 0; i0 < n; i0 += 1024) {
		long m = n - i0 < 1024 ? n - i0 : 1024;
		bn_grad_input_chunk(x + i0, dy + i0, tmp, m, mean, invstd, a, b, k, c1, c2, act);
		for (long i = 0; i < m; i++) dst[i0 + i] = src[i0 + i] + tmp[i];
	}
}

// copy_rows copies rows of ow floats, src rows sstride apart, into
// consecutive dst rows; the common widths get constant-size loops that
// compile to a few vector moves.
static inline void copy_rows(float *restrict dst, const float *restrict src, long rows, long sstride, long ow) {
#define COPY_FIXED(OWC)                                                    \
	for (long r = 0; r < rows; r++, dst += OWC, src += sstride)        \
		for (long i = 0; i < OWC; i++) dst[i] = src[i];            \
	return;
	switch (ow) {
	case 8: COPY_FIXED(8)
	case 16: COPY_FIXED(16)
	case 32: COPY_FIXED(32)
	}
#undef COPY_FIXED
	for (long r = 0; r < rows; r++, dst += ow, src += sstride)
		for (long i = 0; i < ow; i++) dst[i] = src[i];
}

// Phase planes: an H×W plane zero-padded by Pad and split by columns into
// Stride planes (phase r holds the padded columns r, r+Stride, ...), each
// qh × qw. With them every row segment of a strided window is contiguous.
typedef struct {
	long qw, qplane, size; // row width, one phase plane, all phases (floats)
} nk_phases;

static inline nk_phases phases_of(const nk_geom *g) {
	nk_phases p;
	p.qw = (g->W + 2 * g->Pad + g->Stride - 1) / g->Stride;
	p.qplane = (g->H + 2 * g->Pad) * p.qw;
	p.size = g->Stride * p.qplane;
	return p;
}

// to_phases writes the H×W plane img into the interior of the phase planes
// q (their padding is left as it is).
static inline void to_phases(float *restrict q, const float *restrict img, const nk_geom *g, nk_phases ph) {
	const long S = g->Stride, P = g->Pad;
	for (long iy = 0; iy < g->H; iy++) {
		float *qrow = q + (iy + P) * ph.qw;
		const float *xrow = img + iy * g->W;
		if (S == 1) {
			memcpy(qrow + P, xrow, g->W * sizeof(float));
		} else if (S == 2) {
			// Even and odd padded columns; P decides which phase input
			// column 0 lands in.
			float *e = qrow + (P & 1) * ph.qplane + P / 2, *o = qrow + ((P + 1) & 1) * ph.qplane + (P + 1) / 2;
			long half = g->W / 2;
			for (long j = 0; j < half; j++) {
				e[j] = xrow[2 * j];
				o[j] = xrow[2 * j + 1];
			}
			if (g->W & 1) e[half] = xrow[g->W - 1];
		} else {
			for (long ix = 0; ix < g->W; ix++) {
				long cc = ix + P;
				qrow[(cc % S) * ph.qplane + cc / S] = xrow[ix];
			}
		}
	}
}

// add_from_phases adds the interior of the phase planes q into the H×W
// plane img (the adjoint of to_phases).
static inline void add_from_phases(float *restrict img, const float *restrict q, const nk_geom *g, nk_phases ph) {
	const long S = g->Stride, P = g->Pad;
	for (long iy = 0; iy < g->H; iy++) {
		const float *qrow = q + (iy + P) * ph.qw;
		float *drow = img + iy * g->W;
		if (S == 1) {
			for (long ix = 0; ix < g->W; ix++) drow[ix] += qrow[P + ix];
		} else if (S == 2) {
			const float *e = qrow + (P & 1) * ph.qplane + P / 2, *o = qrow + ((P + 1) & 1) * ph.qplane + (P + 1) / 2;
			long half = g->W / 2;
			for (long j = 0; j < half; j++) {
				drow[2 * j] += e[j];
				drow[2 * j + 1] += o[j];
			}
			if (g->W & 1) drow[g->W - 1] += e[half];
		} else {
			for (long ix = 0; ix < g->W; ix++) {
				long cc = ix + P;
				drow[ix] += qrow[(cc % S) * ph.qplane + cc / S];
			}
		}
	}
}

#if NK_LEVEL == 4
// store3 writes the first n (up to 16) floats of a, b and c to p, p + ld and
// p + 2·ld: masked stores, slow on some CPUs, only for odd row ends.
__attribute__((always_inline)) static inline void store3(float *p, long ld, __m512 a, __m512 b, __m512 c, long n) {
	if (n >= 16) {
		_mm512_storeu_ps(p, a);
		_mm512_storeu_ps(p + ld, b);
		_mm512_storeu_ps(p + 2 * ld, c);
	} else if (n == 8) {
		_mm256_storeu_ps(p, _mm512_castps512_ps256(a));
		_mm256_storeu_ps(p + ld, _mm512_castps512_ps256(b));
		_mm256_storeu_ps(p + 2 * ld, _mm512_castps512_ps256(c));
	} else if (n == 4) {
		_mm_storeu_ps(p, _mm512_castps512_ps128(a));
		_mm_storeu_ps(p + ld, _mm512_castps512_ps128(b));
		_mm_storeu_ps(p + 2 * ld, _mm512_castps512_ps128(c));
	} else {
		const __mmask16 m = (__mmask16)((1u << n) - 1);
		_mm512_mask_storeu_ps(p, m, a);
		_mm512_mask_storeu_ps(p + ld, m, b);
		_mm512_mask_storeu_ps(p + 2 * ld, m, c);
	}
}

// row_s1_avx512 writes, for stride 1, columns kx = 0, 1, 2 of the window
// (rows r, r + ld, r + 2·ld) from input row xrow of W floats (NULL: a
// padding row): the row shifted right by one, as it is, and shifted left
// by one, zeros shifted in at the image's edges, 16 outputs at a time.
__attribute__((always_inline)) static inline void row_s1_avx512(float *r, long ld, const float *xrow, long W) {
	const __m512i prev = _mm512_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
	const __m512i next = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15);
	for (long ox = 0; ox < W; ox += 16) {
		__m512 v = _mm512_setzero_ps(), p = v, q = v;
		if (xrow) {
			const long left = W - ox;
			v = left >= 16 ? _mm512_loadu_ps(xrow + ox) : _mm512_maskz_loadu_ps((__mmask16)((1u << left) - 1), xrow + ox);
			p = _mm512_maskz_permutexvar_ps(0xFFFE, prev, v);
			if (ox > 0) p = _mm512_mask_mov_ps(p, 1, _mm512_set1_ps(xrow[ox - 1]));
			q = _mm512_maskz_permutexvar_ps(0x7FFF, next, v);
			if (left > 16) q = _mm512_mask_mov_ps(q, 0x8000, _mm512_set1_ps(xrow[ox + 16]));
		}
		store3(r + ox, ld, p, v, q, W - ox);
	}
}

// row_s2_avx512 is row_s1_avx512 for stride 2 (OW outputs): the row's odd
// columns shifted right by one, its even columns and its odd columns.
__attribute__((always_inline)) static inline void row_s2_avx512(float *r, long ld, const float *xrow, long W, long OW) {
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
	const __m512i prev = _mm512_setr_epi32(0, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29);
	for (long ox = 0; ox < OW; ox += 16) {
		__m512 e = _mm512_setzero_ps(), o = e, p = e;
		if (xrow) {
			// Input columns 2·ox to 2·ox + 31; masked loads (zero beyond
			// the row) only at its end.
			const long left = W - 2 * ox;
			__m512 lo, hi;
			if (left >= 32) {
				lo = _mm512_loadu_ps(xrow + 2 * ox);
				hi = _mm512_loadu_ps(xrow + 2 * ox + 16);
			} else {
				lo = left >= 16 ? _mm512_loadu_ps(xrow + 2 * ox) : _mm512_maskz_loadu_ps((__mmask16)((1u << left) - 1), xrow + 2 * ox);
				hi = left > 16 ? _mm512_maskz_loadu_ps((__mmask16)((1u << (left - 16)) - 1), xrow + 2 * ox + 16) : _mm512_setzero_ps();
			}
			e = _mm512_permutex2var_ps(lo, even, hi);
			o = _mm512_permutex2var_ps(lo, odd, hi);
			p = _mm512_maskz_permutex2var_ps(0xFFFE, lo, prev, hi);
			if (ox > 0) p = _mm512_mask_mov_ps(p, 1, _mm512_set1_ps(xrow[2 * ox - 1]));
		}
		store3(r + ox, ld, p, e, o, OW - ox);
	}
}

// im2col_3x3p1_avx512 is im2col for 3×3 windows with padding 1 at
// stride 1 or 2, reading the input rows directly instead of through phase
// planes: row oy·S + ky − 1 gives the three rows (ky, kx = 0, 1, 2) of
// output row oy at once.
static void im2col_3x3p1_avx512(const float *restrict x, const nk_geom *g, long n0, long n1, float *restrict col) {
	const long S = g->Stride, OH = g->OH, OW = g->OW, H = g->H, W = g->W;
	const long cols = (n1 - n0) * OH * OW, plane = H * W, img = OH * OW;
	for (long c = 0; c < g->C; c++)
		for (long n = n0; n < n1; n++) {
			const float *xp = x + (c * g->N + n) * plane;
			float *dst = col + c * 9 * cols + (n - n0) * img;
			const float *next = next_plane(x, g, c, n, n0, n1);
			if (next) prefetch_plane(next, plane, 0);
			for (long oy = 0; oy < OH; oy++)
				for (long ky = 0; ky < 3; ky++) {
					const long iy = S * oy + ky - 1;
					const float *xrow = iy >= 0 && iy < H ? xp + iy * W : NULL;
					float *r = dst + ky * 3 * cols + oy * OW;
					if (S == 1)
						row_s1_avx512(r, cols, xrow, W);
					else
						row_s2_avx512(r, cols, xrow, W, OW);
				}
		}
}
#endif

#if NK_LEVEL == 3
// The AVX2 counterparts of the AVX-512 row kernels above, eight outputs at a
// time: copies in the same places, so the column matrix is the same.

// mask8 has its first n lanes set (n ≤ 8).
__attribute__((always_inline)) static inline __m256i mask8(long n) {
	const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lanes);
}

// load8 loads the first n (up to 8) floats at p, zeros after them.
__attribute__((always_inline)) static inline __m256 load8(const float *p, long n) {
	return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask8(n));
}

// store3_avx2 writes the first n (up to 8) floats of a, b and c to p,
// p + ld and p + 2·ld.
__attribute__((always_inline)) static inline void store3_avx2(float *p, long ld, __m256 a, __m256 b, __m256 c, long n) {
	if (n >= 8) {
		_mm256_storeu_ps(p, a);
		_mm256_storeu_ps(p + ld, b);
		_mm256_storeu_ps(p + 2 * ld, c);
	} else if (n == 4) {
		_mm_storeu_ps(p, _mm256_castps256_ps128(a));
		_mm_storeu_ps(p + ld, _mm256_castps256_ps128(b));
		_mm_storeu_ps(p + 2 * ld, _mm256_castps256_ps128(c));
	} else {
		const __m256i m = mask8(n);
		_mm256_maskstore_ps(p, m, a);
		_mm256_maskstore_ps(p + ld, m, b);
		_mm256_maskstore_ps(p + 2 * ld, m, c);
	}
}

// row_s1_avx2 is row_s1_avx512 eight outputs at a time.
__attribute__((always_inline)) static inline void row_s1_avx2(float *r, long ld, const float *xrow, long W) {
	const __m256i prev = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6);
	const __m256i next = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7);
	for (long ox = 0; ox < W; ox += 8) {
		__m256 v = _mm256_setzero_ps(), p = v, q = v;
		if (xrow) {
			const long left = W - ox;
			v = load8(xrow + ox, left);
			p = _mm256_permutevar8x32_ps(v, prev);
			p = _mm256_blend_ps(p, _mm256_set1_ps(ox > 0 ? xrow[ox - 1] : 0), 1);
			q = _mm256_permutevar8x32_ps(v, next);
			q = _mm256_blend_ps(q, _mm256_set1_ps(left > 8 ? xrow[ox + 8] : 0), 0x80);
		}
		store3_avx2(r + ox, ld, p, v, q, W - ox);
	}
}

// row_s2_avx2 is row_s2_avx512 eight outputs at a time: input columns
// 2·ox to 2·ox + 15 split into their even and odd columns.
__attribute__((always_inline)) static inline void row_s2_avx2(float *r, long ld, const float *xrow, long W, long OW) {
	const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
	const __m256i prev = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6);
	for (long ox = 0; ox < OW; ox += 8) {
		__m256 e = _mm256_setzero_ps(), o = e, p = e;
		if (xrow) {
			const long left = W - 2 * ox;
			const __m256 lo = load8(xrow + 2 * ox, left), hi = left > 8 ? load8(xrow + 2 * ox + 8, left - 8) : _mm256_setzero_ps();
			const __m256 a = _mm256_permutevar8x32_ps(lo, split), b = _mm256_permutevar8x32_ps(hi, split);
			e = _mm256_permute2f128_ps(a, b, 0x20);
			o = _mm256_permute2f128_ps(a, b, 0x31);
			p = _mm256_permutevar8x32_ps(o, prev);
			p = _mm256_blend_ps(p, _mm256_set1_ps(ox > 0 ? xrow[2 * ox - 1] : 0), 1);
		}
		store3_avx2(r + ox, ld, p, e, o, OW - ox);
	}
}

// im2col_3x3p1_avx2 is im2col_3x3p1_avx512 with the AVX2 row kernels.
static void im2col_3x3p1_avx2(const float *restrict x, const nk_geom *g, long n0, long n1, float *restrict col) {
	const long S = g->Stride, OH = g->OH, OW = g->OW, H = g->H, W = g->W;
	const long cols = (n1 - n0) * OH * OW, plane = H * W, img = OH * OW;
	for (long c = 0; c < g->C; c++)
		for (long n = n0; n < n1; n++) {
			const float *xp = x + (c * g->N + n) * plane;
			float *dst = col + c * 9 * cols + (n - n0) * img;
			const float *next = next_plane(x, g, c, n, n0, n1);
			if (next) prefetch_plane(next, plane, 0);
			for (long oy = 0; oy < OH; oy++)
				for (long ky = 0; ky < 3; ky++) {
					const long iy = S * oy + ky - 1;
					const float *xrow = iy >= 0 && iy < H ? xp + iy * W : NULL;
					float *r = dst + ky * 3 * cols + oy * OW;
					if (S == 1)
						row_s1_avx2(r, cols, xrow, W);
					else
						row_s2_avx2(r, cols, xrow, W, OW);
				}
		}
}
#endif

// Row (c, ky, kx) of the column matrix, for images n0..n1. Each input plane
// is first copied, zero-padded, into Stride phase planes (phase r holds the
// padded columns r, r+Stride, ...), so that every row segment of the column
// matrix is a contiguous copy: input (oy·S + ky, ox·S + kx) is phase kx mod S,
// row oy·S + ky, column ox + kx div S. With AVX-512, 3×3 windows with
// padding 1 at stride 1 or 2 (nearly every convolution here) skip the phase
// planes (im2col_3x3p1_avx512).
static void im2col(const float *restrict x, const nk_geom *g, long n0, long n1, float *restrict col) {
	const long S = g->Stride, OH = g->OH, OW = g->OW;
	const long cols = (n1 - n0) * OH * OW, plane = g->H * g->W, img = OH * OW;
#if NK_LEVEL == 4
	if (g->Pad == 1 && g->KH == 3 && g->KW == 3 && (S == 1 || S == 2)) {
		im2col_3x3p1_avx512(x, g, n0, n1, col);
		return;
	}
#elif NK_LEVEL == 3
	if (g->Pad == 1 && g->KH == 3 && g->KW == 3 && (S == 1 || S == 2)) {
		im2col_3x3p1_avx2(x, g, n0, n1, col);
		return;
	}
#endif
	const nk_phases ph = phases_of(g);
	float *q = calloc(ph.size, sizeof(float)); // padding stays zero
	if (!q) __builtin_trap();
	for (long c = 0; c < g->C; c++)
		for (long n = n0; n < n1; n++) {
			const float *next = next_plane(x, g, c, n, n0, n1);
			if (next) prefetch_plane(next, plane, 0);
			to_phases(q, x + (c * g->N + n) * plane, g, ph);
			for (long ky = 0; ky < g->KH; ky++)
				for (long kx = 0; kx < g->KW; kx++) {
					float *row = col + ((c * g->KH + ky) * g->KW + kx) * cols + (n - n0) * img;
					copy_rows(row, q + (kx % S) * ph.qplane + ky * ph.qw + kx / S, OH, S * ph.qw, OW);
				}
		}
	free(q);
}

// add_rows adds rows of ow floats from consecutive src rows into dst rows
// dstride apart (the adjoint of copy_rows).
static inline void add_rows(float *restrict dst, const float *restrict src, long rows, long dstride, long ow) {
#define ADD_FIXED(OWC)                                                     \
	for (long r = 0; r < rows; r++, dst += dstride, src += OWC)        \
		for (long i = 0; i < OWC; i++) dst[i] += src[i];           \
	return;
	switch (ow) {
	case 8: ADD_FIXED(8)
	case 16: ADD_FIXED(16)
	case 32: ADD_FIXED(32)
	}
#undef ADD_FIXED
	for (long r = 0; r < rows; r++, dst += dstride, src += ow)
		for (long i = 0; i < ow; i++) dst[i] += src[i];
}

// The adjoint of im2col: each image's rows are summed into zeroed
// phase planes (in the same (ky, kx) order as a direct scatter), whose
// interior is then added into dx.
static void col2im(const float *restrict col, const nk_geom *g, long n0, long n1, float *restrict dx) {
	const long S = g->Stride, OH = g->OH, OW = g->OW;
	const long cols = (n1 - n0) * OH * OW, plane = g->H * g->W, img = OH * OW;
	const nk_phases ph = phases_of(g);
	float *q = malloc(ph.size * sizeof(float));
	if (!q) __builtin_trap();
	for (long c = 0; c < g->C; c++)
		for (long n = n0; n < n1; n++) {
			const float *next = next_plane(dx, g, c, n, n0, n1);
			if (next) prefetch_plane(next, plane, 1);
			memset(q, 0, ph.size * sizeof(float));
			for (long ky = 0; ky < g->KH; ky++)
				for (long kx = 0; kx < g->KW; kx++) {
					const float *row = col + ((c * g->KH + ky) * g->KW + kx) * cols + (n - n0) * img;
					add_rows(q + (kx % S) * ph.qplane + ky * ph.qw + kx / S, row, OH, S * ph.qw, OW);
				}
			add_from_phases(dx + (c * g->N + n) * plane, q, g, ph);
		}
	free(q);
}

// 2×2, stride-2 max pooling of planes h×w; argmax holds each maximum's index
// within its input plane (first maximum in row-major window order on ties).
static void maxpool2(const float *restrict x, float *restrict y, int *restrict argmax, long planes, long h, long w) {
	const long oh = h / 2, ow = w / 2;
	for (long p = 0; p < planes; p++) {
		const float *src = x + p * h * w;
		float *dst = y + p * oh * ow;
		int *arg = argmax + p * oh * ow;
		for (long oy = 0; oy < oh; oy++) {
			const float *r0 = src + 2 * oy * w, *r1 = r0 + w;
			for (long ox = 0; ox < ow; ox++) {
				float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
				int i = (int)(2 * oy * w + 2 * ox);
				float best = a;
				int bi = i;
				if (b > best) { best = b; bi = i + 1; }
				if (c > best) { best = c; bi = i + (int)w; }
				if (d > best) { best = d; bi = i + (int)w + 1; }
				dst[oy * ow + ox] = best;
				arg[oy * ow + ox] = bi;
			}
		}
	}
}

// Rows of the direct convolution (conv3x3_direct).
#define DIRECT_OW 32

#if NK_LEVEL == 4
// direct_rows_avx512 convolves output rows of NB channels (NB ≤ 8) from
// padded planes q: 2·NB accumulators stay in registers while each input
// row segment is loaded once per tap, in the (ci, ky, kx) order of the
// portable loop below, so both give the same floats. NB is a constant where
// it is inlined, so the loops over it unroll and acc lives in registers
// (the portable loop's arrays spill to the stack).
__attribute__((always_inline)) static inline void direct_rows_avx512(const float *restrict q, long C, long pw, long pplane, long H, const float *restrict w, long NB, float *restrict dst, long ldy, const float *a, const float *b, int act) {
	for (long oy = 0; oy < H; oy++) {
		__m512 acc[8][2];
		for (long j = 0; j < NB; j++) acc[j][0] = acc[j][1] = _mm512_setzero_ps();
		for (long ci = 0; ci < C; ci++)
			for (long ky = 0; ky < 3; ky++) {
				const float *src = q + ci * pplane + (oy + ky) * pw;
				for (long kx = 0; kx < 3; kx++) {
					const long t = ci * 9 + ky * 3 + kx;
					const __m512 v0 = _mm512_loadu_ps(src + kx), v1 = _mm512_loadu_ps(src + kx + 16);
					for (long j = 0; j < NB; j++) {
						const __m512 b = _mm512_set1_ps(w[j * C * 9 + t]);
						acc[j][0] = _mm512_fmadd_ps(b, v0, acc[j][0]);
						acc[j][1] = _mm512_fmadd_ps(b, v1, acc[j][1]);
					}
				}
			}
		for (long j = 0; j < NB; j++) {
			if (a) { // the batch norm, as scale_shift computes it
				const __m512 aj = _mm512_set1_ps(a[j]), bj = _mm512_set1_ps(b[j]);
				for (int h = 0; h < 2; h++) {
					acc[j][h] = _mm512_fmadd_ps(acc[j][h], aj, bj);
					if (act == NK_RELU) acc[j][h] = _mm512_max_ps(acc[j][h], _mm512_setzero_ps());
				}
			}
			_mm512_storeu_ps(dst + j * ldy + oy * DIRECT_OW, acc[j][0]);
			_mm512_storeu_ps(dst + j * ldy + oy * DIRECT_OW + 16, acc[j][1]);
		}
	}
}

static void conv3x3_direct_avx512(const float *restrict x, const float *restrict w, const nk_geom *g, long cout, long n0, long n1, float *restrict y, long ldy, const float *a, const float *b, int act) {
	const long C = g->C, H = g->H, W = g->W, plane = H * W;
	const nk_phases ph = phases_of(g);
	float *q = calloc(C * ph.qplane, sizeof(float));
	if (!q) __builtin_trap();
	for (long n = n0; n < n1; n++) {
		for (long ci = 0; ci < C; ci++)
			to_phases(q + ci * ph.qplane, x + (ci * g->N + n) * plane, g, ph);
		if (n + 1 < n1) // the next image's planes
			for (long ci = 0; ci < C; ci++) prefetch_plane(x + (ci * g->N + n + 1) * plane, plane, 0);
		long co = 0;
		for (; co + 8 <= cout; co += 8)
			direct_rows_avx512(q, C, ph.qw, ph.qplane, H, w + co * C * 9, 8, y + co * ldy + n * plane, ldy, a ? a + co : a, a ? b + co : b, act);
		for (; co < cout; co += 4)
			direct_rows_avx512(q, C, ph.qw, ph.qplane, H, w + co * C * 9, 4, y + co * ldy + n * plane, ldy, a ? a + co : a, a ? b + co : b, act);
	}
	free(q);
}
#endif

// Direct 3×3, stride-1, pad-1 convolution of images n0..n1 for layers with
// few input channels (the image layer, K = 27, where a GEMM runs at half its
// usual rate): y[co, n, oy, ox] = Σ w[co, ci, ky, kx]·x[ci, n, oy+ky−1, ox+kx−1],
// four (AVX-512: eight) output channels at a time sharing each input row;
// rows of 32 and a multiple of four output channels only. With a not NULL, output channel
// co is then mapped to act(a[co]·y + b[co]) (act none or ReLU): a batch norm
// fused into the convolution.
static void conv3x3_direct(const float *restrict x, const float *restrict w, const nk_geom *g, long cout, long n0, long n1, float *restrict y, long ldy, const float *a, const float *b, int act) {
#if NK_LEVEL == 4
	{
		conv3x3_direct_avx512(x, w, g, cout, n0, n1, y, ldy, a, b, act);
		return;
	}
#endif
	// One padded plane per input channel (Stride 1: a single phase each).
	const long C = g->C, H = g->H, W = g->W, plane = H * W;
	const nk_phases ph = phases_of(g);
	const long pw = ph.qw, pplane = ph.qplane;
	float *q = calloc(C * pplane, sizeof(float));
	if (!q) __builtin_trap();
	for (long n = n0; n < n1; n++) {
		for (long ci = 0; ci < C; ci++)
			to_phases(q + ci * pplane, x + (ci * g->N + n) * plane, g, ph);
		for (long co0 = 0; co0 < cout; co0 += 4) {
			const float *w0 = w + co0 * C * 9, *w1 = w0 + C * 9, *w2 = w1 + C * 9, *w3 = w2 + C * 9;
			for (long oy = 0; oy < H; oy++) {
				float a0[DIRECT_OW] = {0}, a1[DIRECT_OW] = {0}, a2[DIRECT_OW] = {0}, a3[DIRECT_OW] = {0};
				for (long ci = 0; ci < C; ci++)
					for (long ky = 0; ky < 3; ky++) {
						const float *src = q + ci * pplane + (oy + ky) * pw;
						for (long kx = 0; kx < 3; kx++) {
							const long t = ci * 9 + ky * 3 + kx;
							const float b0 = w0[t], b1 = w1[t], b2 = w2[t], b3 = w3[t], *s = src + kx;
							for (long ox = 0; ox < DIRECT_OW; ox++) {
								const float v = s[ox];
								a0[ox] += b0 * v;
								a1[ox] += b1 * v;
								a2[ox] += b2 * v;
								a3[ox] += b3 * v;
							}
						}
					}
				float *dst = y + co0 * ldy + n * plane + oy * W;
				memcpy(dst, a0, sizeof a0);
				memcpy(dst + ldy, a1, sizeof a1);
				memcpy(dst + 2 * ldy, a2, sizeof a2);
				memcpy(dst + 3 * ldy, a3, sizeof a3);
			}
		}
		if (a) // the batch norm while the image is in cache
			for (long co = 0; co < cout; co++)
				scale_shift_inplace(y + co * ldy + n * plane, plane, a[co], b[co], act);
	}
	free(q);
}

// The channel-blocked layouts oneDNN's convolutions compute in: task
// t = n·CB + cb of to_blocked copies channels [cb·B, cb·B + B) of image n of
// x (C, N, HW) into y (N, CB, HW, B), CB = ⌈C/B⌉, with zeros past channel C;
// from_blocked copies them back. B = 16 and 8 are oneDNN's nChw16c and
// nChw8c; B = C (one block) is NHWC. The hand-written paths transpose 16×16
// (AVX-512) or 8×8 (AVX2) tiles of 16 or 8 channels by as many pixels.
// v8 is 8 floats on GCC's vector extensions (v8u at any alignment, v8i
// their lanes' masks): the 8×8 transposes of the AVX2 blocked layouts and
// of the packed 1×1 weight gradient, which runs on every level.
typedef float v8 __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));

// tr8 transposes the 8×8 tile r (row i: r[i]) in place (unpacklo/hi,
// shufps 0x44/0xEE, vperm2f128 0x20/0x31 on AVX2).
__attribute__((always_inline)) static inline void tr8(v8 r[8]) {
	v8 t[8], u[8];
#pragma GCC unroll 8
	for (int i = 0; i < 8; i += 2) {
		t[i] = __builtin_shuffle(r[i], r[i + 1], (v8i){0, 8, 1, 9, 4, 12, 5, 13});
		t[i + 1] = __builtin_shuffle(r[i], r[i + 1], (v8i){2, 10, 3, 11, 6, 14, 7, 15});
	}
#pragma GCC unroll 8
	for (int i = 0; i < 8; i += 4)
#pragma GCC unroll 8
		for (int h = 0; h < 2; h++) {
			u[i + 2 * h] = __builtin_shuffle(t[i + h], t[i + 2 + h], (v8i){0, 1, 8, 9, 4, 5, 12, 13});
			u[i + 2 * h + 1] = __builtin_shuffle(t[i + h], t[i + 2 + h], (v8i){2, 3, 10, 11, 6, 7, 14, 15});
		}
#pragma GCC unroll 8
	for (int i = 0; i < 4; i++) {
		r[i] = __builtin_shuffle(u[i], u[i + 4], (v8i){0, 1, 2, 3, 8, 9, 10, 11});
		r[i + 4] = __builtin_shuffle(u[i], u[i + 4], (v8i){4, 5, 6, 7, 12, 13, 14, 15});
	}
}

#if NK_LEVEL == 4
// tr16 transposes the 16×16 tile r (row i: r[i]).
__attribute__((always_inline)) static inline void tr16(__m512 r[16]) {
	__m512 t[16];
	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
	}
	for (int i = 0; i < 16; i += 4) {
		r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
		r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
		r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
		r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
	}
	for (int i = 0; i < 4; i++) {
		t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
		t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
		t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
		t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
	}
	for (int i = 0; i < 8; i++) {
		r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
		r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
	}
}
#define TILE 16
#elif NK_LEVEL == 3
#define TILE 8
#endif

#ifdef TILE
// tile transposes a TILE×TILE tile: row i of src (at src + i·sld) becomes
// column i of dst (rows at dst + k·dld).
__attribute__((always_inline)) static inline void tile(const float *restrict src, long sld, float *restrict dst, long dld) {
#if TILE == 16
	__m512 r[16];
	for (int i = 0; i < 16; i++)
		r[i] = _mm512_loadu_ps(src + i * sld);
	tr16(r);
	for (int i = 0; i < 16; i++)
		_mm512_storeu_ps(dst + i * dld, r[i]);
#else
	v8 r[8];
	for (int i = 0; i < 8; i++)
		r[i] = *(const v8u *)(src + i * sld);
	tr8(r);
	for (int i = 0; i < 8; i++)
		*(v8u *)(dst + i * dld) = r[i];
#endif
}
#endif

static void to_blocked(const float *restrict x, long C, long N, long HW, long B, long t0, long t1, float *restrict y) {
	const long CB = (C + B - 1) / B;
	for (long t = t0; t < t1; t++) {
		const long n = t / CB, c0 = t % CB * B, nc = C - c0 < B ? C - c0 : B;
		float *yt = y + t * HW * B;
		long j = 0;
#ifdef TILE
		const long ld = N * HW;
		for (; j + TILE <= nc; j += TILE) {
			const float *xr = x + ((c0 + j) * N + n) * HW;
			long p = 0;
			for (; p + TILE <= HW; p += TILE)
				tile(xr + p, ld, yt + p * B + j, B);
			for (; p < HW; p++)
				for (long i = 0; i < TILE; i++)
					yt[p * B + j + i] = xr[i * ld + p];
		}
#endif
		for (; j < nc; j++) {
			const float *xr = x + ((c0 + j) * N + n) * HW;
			for (long p = 0; p < HW; p++)
				yt[p * B + j] = xr[p];
		}
		for (; j < B; j++)
			for (long p = 0; p < HW; p++)
				yt[p * B + j] = 0;
	}
}

static void from_blocked(const float *restrict y, long C, long N, long HW, long B, long t0, long t1, float *restrict x) {
	const long CB = (C + B - 1) / B;
	for (long t = t0; t < t1; t++) {
		const long n = t / CB, c0 = t % CB * B, nc = C - c0 < B ? C - c0 : B;
		const float *yt = y + t * HW * B;
		long j = 0;
#ifdef TILE
		const long ld = N * HW;
		for (; j + TILE <= nc; j += TILE) {
			float *xr = x + ((c0 + j) * N + n) * HW;
			long p = 0;
			for (; p + TILE <= HW; p += TILE)
				tile(yt + p * B + j, B, xr + p, ld);
			for (; p < HW; p++)
				for (long i = 0; i < TILE; i++)
					xr[i * ld + p] = yt[p * B + j + i];
		}
#endif
		for (; j < nc; j++) {
			float *xr = x + ((c0 + j) * N + n) * HW;
			for (long p = 0; p < HW; p++)
				xr[p] = yt[p * B + j];
		}
	}
}
#undef TILE

// The packed kernels below promise sums in a stated order, so they are
// compiled without the file's associative math: with it, GCC re-associated
// the 3×3 kernel's unrolled taps into products added in pairs, which took
// registers enough to spill the register tile to the stack on AVX2.
#pragma GCC push_options
#pragma GCC optimize("no-associative-math")

// The packed GEMM of 1×1 convolutions, y = w·x over a tile of columns
// (Goto & van de Geijn, "Anatomy of high-performance matrix
// multiplication", 2008): w is packed once into panels of PW_MR rows, the
// tile of x into panels of PW_NR columns as it is read (and normalised, for
// a batch norm fused into the convolution), and a register tile of
// PW_MR × PW_NR outputs is summed over k in order, one multiply-add at a
// time from zero, so an output's floats depend neither on the tile nor on
// where its row and column fall in the panels.
#if NK_LEVEL == 4
typedef float pw_vec __attribute__((vector_size(64)));
typedef int pw_ivec __attribute__((vector_size(64)));
#define PW_MR 12
#elif NK_LEVEL == 3
typedef float pw_vec __attribute__((vector_size(32)));
typedef int pw_ivec __attribute__((vector_size(32)));
#define PW_MR 6
#else
typedef float pw_vec __attribute__((vector_size(16)));
typedef int pw_ivec __attribute__((vector_size(16)));
#define PW_MR 6
#endif
#define PW_VL ((long)(sizeof(pw_vec) / sizeof(float)))
#define PW_NR (2 * PW_VL)

static void pw_tile(long *mr, long *nr) {
	*mr = PW_MR;
	*nr = PW_NR;
}

// pw_pack_a packs the m × k matrix whose element (i, kk) is w[i·rs + kk·cs]
// (rs = k, cs = 1: w row-major; rs = 1, cs = m: its transpose) into
// ⌈m/PW_MR⌉ panels, each k columns of PW_MR rows (zero past row m).
static void pw_pack_a(const float *restrict w, long m, long k, long rs, long cs, float *restrict ap) {
	for (long i0 = 0; i0 < m; i0 += PW_MR)
		for (long kk = 0; kk < k; kk++)
			for (long r = 0; r < PW_MR; r++) *ap++ = i0 + r < m ? w[(i0 + r) * rs + kk * cs] : 0;
}

// pw_pack_b packs columns [p0, p1) of the k rows of x (ld apart) into
// ⌈(p1−p0)/PW_NR⌉ panels, each k rows of PW_NR columns (zero past p1),
// mapping row kk as scale_shift(·, a[kk], b[kk], act) does when a is not
// NULL: the same floats as a batch norm's output packed. Each row goes
// straight from x to the panels, a vector at a time (GELU's through
// scale_shift), and the row two further on is fetched: rows apart are in
// other pages, where the hardware prefetcher stops. (Fetching 4 to 32 rows
// ahead into the L2 cache as well changed nothing: the rows, N·H·W floats
// apart, fall in the same few sets.)
static inline void pw_pack_row(const float *restrict src, long n, float a, float b, int act, int map, float *restrict dst, long stride) {
	long j0 = 0;
	for (; j0 + PW_NR <= n; j0 += PW_NR, dst += stride) {
		pw_vec v0, v1;
		memcpy(&v0, src + j0, sizeof v0);
		memcpy(&v1, src + j0 + PW_VL, sizeof v1);
		if (map) {
			v0 = v0 * a + b;
			v1 = v1 * a + b;
			if (act == NK_RELU) { // v > 0 ? v : 0
				v0 = (pw_vec)((pw_ivec)v0 & (v0 > 0));
				v1 = (pw_vec)((pw_ivec)v1 & (v1 > 0));
			}
		}
		memcpy(dst, &v0, sizeof v0);
		memcpy(dst + PW_VL, &v1, sizeof v1);
	}
	if (j0 < n) {
		float t[PW_NR] = {0};
		memcpy(t, src + j0, (n - j0) * sizeof(float));
		if (map) scale_shift_inplace(t, n - j0, a, b, act); // the floats past n stay zero
		memcpy(dst, t, sizeof t);
	}
}

static void pw_pack_b(const float *restrict x, long ld, long k, long p0, long p1, const float *a, const float *b, int act, float *restrict bp) {
	enum { CHUNK = 512 };
	float row[CHUNK];
	const long n = p1 - p0;
	for (long kk = 0; kk < k; kk++) {
		const float *src = x + kk * ld + p0;
		if (kk + 2 < k) prefetch_plane(src + 2 * ld, n, 0);
		if (a && act == NK_GELU) { // scalar, as scale_shift computes it
			for (long c0 = 0; c0 < n; c0 += CHUNK) { // CHUNK is a multiple of PW_NR
				const long c1 = c0 + CHUNK < n ? c0 + CHUNK : n;
				scale_shift(src + c0, row, c1 - c0, a[kk], b[kk], act);
				pw_pack_row(row, c1 - c0, 0, 0, 0, 0, bp + c0 * k + kk * PW_NR, PW_NR * k);
			}
			continue;
		}
		if (a)
			pw_pack_row(src, n, a[kk], b[kk], act, 1, bp + kk * PW_NR, PW_NR * k);
		else
			pw_pack_row(src, n, 0, 0, 0, 0, bp + kk * PW_NR, PW_NR * k);
	}
}

// PW_STORE stores the mr × nr corner of the register tile acc (PW_MR rows
// of two vectors of vl floats) into c (rows ldc apart): whole rows as they
// are, a corner through a buffer.
#define PW_STORE(acc, vl, c, ldc, mr, nr)                                                                  \
	do {                                                                                                   \
		if ((mr) == PW_MR && (nr) == 2 * (vl)) {                                                           \
			_Pragma("GCC unroll 16") for (long r_ = 0; r_ < PW_MR; r_++) memcpy((c) + r_ * (ldc), (acc)[r_], sizeof(acc)[r_]); \
			break;                                                                                         \
		}                                                                                                  \
		float t_[PW_MR][2 * (vl)];                                                                         \
		memcpy(t_, (acc), sizeof t_);                                                                      \
		for (long r_ = 0; r_ < (mr); r_++) memcpy((c) + r_ * (ldc), t_[r_], (nr) * sizeof(float));         \
	} while (0)

// PW_STREAM_STORE stores the vector v at p (aligned) past the caches.
#if NK_LEVEL == 4
#define PW_STREAM_STORE(p, v) _mm512_stream_ps((p), (__m512)(v))
#elif NK_LEVEL == 3
#define PW_STREAM_STORE(p, v) _mm256_stream_ps((p), (__m256)(v))
#endif

// pw_stream reports whether pw_micro can store a whole register tile at c
// (rows ldc apart) past the caches: on x86 at AVX2 and above, every row's
// vectors aligned.
static inline int pw_stream(const float *c, long ldc) {
#if NK_LEVEL >= 3
	return (uintptr_t)c % sizeof(pw_vec) == 0 && ldc % PW_VL == 0;
#else
	(void)c, (void)ldc;
	return 0;
#endif
}

// pw_micro sums one register tile over k and stores its mr × nr corner
// into c (rows ldc apart); from zero, or with from the sums continue those
// c holds. With stream, a whole tile goes past the caches where pw_stream
// allows (non-temporal stores: the caller fences them).
__attribute__((always_inline)) static inline void pw_micro(const float *restrict a, const float *restrict b, long k, float *restrict c, long ldc, long mr, long nr,
                                                           int from, int stream) {
	pw_vec acc[PW_MR][2];
	if (!from) {
#pragma GCC unroll 16
		for (long r = 0; r < PW_MR; r++) acc[r][0] = acc[r][1] = (pw_vec){};
	} else if (mr == PW_MR && nr == PW_NR) {
#pragma GCC unroll 16
		for (long r = 0; r < PW_MR; r++) memcpy(acc[r], c + r * ldc, sizeof acc[r]);
	} else {
		float t[PW_MR][PW_NR] = {{0}};
		for (long r = 0; r < mr; r++) memcpy(t[r], c + r * ldc, nr * sizeof(float));
		memcpy(acc, t, sizeof t);
	}
	for (long kk = 0; kk < k; kk++, a += PW_MR, b += PW_NR) {
		pw_vec b0, b1;
		memcpy(&b0, b, sizeof b0);
		memcpy(&b1, b + PW_VL, sizeof b1);
#pragma GCC unroll 16
		for (long r = 0; r < PW_MR; r++) {
			const pw_vec ar = (pw_vec){} + a[r];
			acc[r][0] = ar * b0 + acc[r][0];
			acc[r][1] = ar * b1 + acc[r][1];
		}
	}
#if NK_LEVEL >= 3
	if (stream && mr == PW_MR && nr == PW_NR && pw_stream(c, ldc)) {
#pragma GCC unroll 16
		for (long r = 0; r < PW_MR; r++) {
			PW_STREAM_STORE(c + r * ldc, acc[r][0]);
			PW_STREAM_STORE(c + r * ldc + PW_VL, acc[r][1]);
		}
		return;
	}
#else
	(void)stream;
#endif
	PW_STORE(acc, PW_VL, c, ldc, mr, nr);
}

// PW_MICRO_3X3 defines name, pw_micro for the 3×3 convolution reading its
// columns in place (no packing) on vectors vec of vl floats: vector v of
// the register tile's row (c, ky, kx) is the vl floats at q[v] + c·pplane
// + ky·pw + kx of zero-bordered planes pplane floats apart with rows pw
// apart — the same floats as packed, multiplied in the same order.
#define PW_MICRO_3X3(name, vec, vl)                                                                                   \
	__attribute__((always_inline)) static inline void name(const float *restrict a, const float *q0, const float *q1, \
	                                                       long C, long pplane, long pw, float *restrict c, long ldc,  \
	                                                       long mr, long nr) {                                          \
		vec acc[PW_MR][2];                                                                                            \
		_Pragma("GCC unroll 16") for (long r = 0; r < PW_MR; r++) acc[r][0] = acc[r][1] = (vec){};                    \
		for (long ci = 0; ci < C; ci++)                                                                                \
			for (long ky = 0; ky < 3; ky++) {                                                                          \
				const float *r0 = q0 + ci * pplane + ky * pw, *r1 = q1 + ci * pplane + ky * pw;                       \
				_Pragma("GCC unroll 3") for (long kx = 0; kx < 3; kx++, a += PW_MR) {                                 \
					vec b0, b1;                                                                                        \
					memcpy(&b0, r0 + kx, sizeof b0);                                                                   \
					memcpy(&b1, r1 + kx, sizeof b1);                                                                   \
					_Pragma("GCC unroll 16") for (long r = 0; r < PW_MR; r++) {                                        \
						const vec ar = (vec){} + a[r];                                                                 \
						acc[r][0] = ar * b0 + acc[r][0];                                                               \
						acc[r][1] = ar * b1 + acc[r][1];                                                               \
					}                                                                                                  \
				}                                                                                                      \
			}                                                                                                          \
		PW_STORE(acc, vl, c, ldc, mr, nr);                                                                            \
	}
PW_MICRO_3X3(pw_micro_3x3, pw_vec, PW_VL)
#if NK_LEVEL == 4
// AVX-512 on 8-pixel rows (DenseNet-BC's last block): vectors of 8.
typedef float pw_hvec __attribute__((vector_size(32)));
PW_MICRO_3X3(pw_micro_3x3_h, pw_hvec, 8)
#endif

// pw_gemm writes y = w·x for the m × n outputs (rows ldy apart) from the
// packed ap (pw_pack_a) and bp (pw_pack_b) over k; with stream, past the
// caches where it can (pw_micro), fenced before it returns.
static void pw_gemm(const float *restrict ap, const float *restrict bp, long m, long n, long k, float *restrict y, long ldy, int stream) {
	for (long j0 = 0; j0 < n; j0 += PW_NR) {
		const long nr = n - j0 < PW_NR ? n - j0 : PW_NR;
		for (long i0 = 0; i0 < m; i0 += PW_MR) {
			const long mr = m - i0 < PW_MR ? m - i0 : PW_MR;
			pw_micro(ap + i0 * k, bp + j0 * k, k, y + i0 * ldy + j0, ldy, mr, nr, 0, stream);
		}
	}
#if NK_LEVEL >= 3
	if (stream) _mm_sfence();
#endif
}

// The weight gradient of a 1×1 convolution, dw += dy·x̂ᵀ over a tile of
// columns, on the packed GEMM: both operands have the pixels (the sum's
// index) contiguous, so each is packed transposed — dy into panels of
// PW_MR rows, x̂ into panels of PW_NR, a pixel's values side by side — in
// blocks of 8 × 8 transposed in registers; the register tile then starts
// from the outputs' sums so far and adds the tile's pixels in order. An
// output's floats are those of one sum over all the pixels in order, on
// whatever tiles.

// pw_pack_t writes the rows [r0, r0 + rows) of x (ld apart, rows ≤ 8, each
// mapped as scale_shift(·, a[r], b[r], act) when a is not NULL) at columns
// [p0, p0 + n) transposed: column j's values go to dst + j·stride, side by
// side. Blocks of 8 columns are transposed in registers and each column
// stored as 8 floats, zero past rows: up to 8 − rows floats past its
// values, which the caller writes after (pw_pack_panels).
static inline void pw_pack_t(const float *restrict x, long ld, long r0, long rows, long p0, long n, const float *a, const float *b,
                             int act, float *restrict dst, long stride) {
	long j = 0;
	for (; j + 8 <= n; j += 8) {
		v8 r[8];
#pragma GCC unroll 8
		for (long i = 0; i < 8; i++) {
			if (i >= rows) {
				r[i] = (v8){};
				continue;
			}
			r[i] = *(const v8u *)(x + (r0 + i) * ld + p0 + j);
			if (a) {
				if (act == NK_GELU) // scalar, as scale_shift computes it
					for (long q = 0; q < 8; q++) r[i][q] = nk_gelu(a[r0 + i] * r[i][q] + b[r0 + i]);
				else {
					r[i] = r[i] * a[r0 + i] + b[r0 + i];
					if (act == NK_RELU) r[i] = (v8)((v8i)r[i] & (r[i] > 0)); // v > 0 ? v : 0
				}
			}
		}
		tr8(r);
#pragma GCC unroll 8
		for (long q = 0; q < 8; q++) *(v8u *)(dst + (j + q) * stride) = r[q];
	}
	for (; j < n; j++)
		for (long i = 0; i < rows; i++) {
			const float v = x[(r0 + i) * ld + p0 + j];
			if (a)
				scale_shift(&v, dst + j * stride + i, 1, a[r0 + i], b[r0 + i], act);
			else
				dst[j * stride + i] = v;
		}
}

// pw_pack_panels packs columns [p0, p0 + n) of the m rows of x (ld apart,
// mapped through a, b, act when a is not NULL) transposed into ⌈m/w⌉
// panels of w values a column (zero past row m), w = PW_MR or PW_NR. A
// column's stores may spill up to 7 floats past its group of 8 rows; the
// groups go from a panel's last and the panels in order, so a spill lands
// on floats written later — the next column's first rows, or the next
// panel's first column — or, from the last panel, on as many floats past
// the panels.
static void pw_pack_panels(const float *restrict x, long ld, long m, long p0, long n, const float *a, const float *b, int act,
                           long w, float *restrict dst) {
	for (long i0 = 0; i0 < m; i0 += w) {
		float *panel = dst + i0 * n;
		for (long g0 = (w - 1) / 8 * 8; g0 >= 0; g0 -= 8) {
			const long rows = g0 + 8 <= w ? 8 : w - g0;
			const long real = m - i0 - g0 >= rows ? rows : (m - i0 - g0 > 0 ? m - i0 - g0 : 0);
			pw_pack_t(x, ld, i0 + g0, real, p0, n, a, b, act, panel + g0, w);
			if (real < rows)
				for (long j = n / 8 * 8; j < n; j++) // the scalar columns' rows past m
					for (long i = real; i < rows; i++) panel[j * w + g0 + i] = 0;
		}
	}
}

// pw_wgrad_len is the floats of pw_wgrad's scratch for n columns.
static long pw_wgrad_len(long m, long k, long n) {
	return ((m + PW_MR - 1) / PW_MR * PW_MR + (k + PW_NR - 1) / PW_NR * PW_NR) * n + 8; // + a last spill
}

// pw_wgrad adds to dw (m × k, row-major) dy·x̂ᵀ over columns [p0, p1): dy's
// m rows ldy apart, x̂ the k rows of x (ld apart) mapped as scale_shift(·,
// a[kk], b[kk], act) when a is not NULL; t holds pw_wgrad_len floats.
static void pw_wgrad(const float *restrict dy, long ldy, long m, const float *restrict x, long ld, long k, long p0, long p1,
                     const float *a, const float *b, int act, float *restrict t, float *restrict dw) {
	const long n = p1 - p0;
	float *ap = t, *bp = t + (m + PW_MR - 1) / PW_MR * PW_MR * n;
	pw_pack_panels(dy, ldy, m, p0, n, NULL, NULL, 0, PW_MR, ap);
	pw_pack_panels(x, ld, k, p0, n, a, b, act, PW_NR, bp);
	for (long j0 = 0; j0 < k; j0 += PW_NR) {
		const long nr = k - j0 < PW_NR ? k - j0 : PW_NR;
		for (long i0 = 0; i0 < m; i0 += PW_MR) {
			const long mr = m - i0 < PW_MR ? m - i0 : PW_MR;
			pw_micro(ap + i0 * n, bp + j0 * n, n, dw + i0 * k + j0, k, mr, nr, 1, 0);
		}
	}
}

// copy_run copies n floats, in vectors of 8 where it can.
static inline void copy_run(float *restrict dst, const float *restrict src, long n) {
	long i = 0;
	for (; i + 8 <= n; i += 8) memcpy(dst + i, src + i, 8 * sizeof(float));
	for (; i < n; i++) dst[i] = src[i];
}

// map_run writes dst = act(a·src + b) over n floats, vectors of 8 where it
// can: the floats scale_shift gives.
static inline void map_run(float *restrict dst, const float *restrict src, long n, float a, float b, int act) {
	if (act == NK_GELU) {
		scale_shift(src, dst, n, a, b, act);
		return;
	}
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		v8 v;
		memcpy(&v, src + i, sizeof v);
		v = v * a + b;
		if (act == NK_RELU) v = (v8)((v8i)v & (v > 0)); // v > 0 ? v : 0
		memcpy(dst + i, &v, sizeof v);
	}
	if (i < n) scale_shift(src + i, dst + i, n - i, a, b, act);
}

// pad_planes copies image n's planes of x (C, N, H, W) into the interiors
// of q's zero-bordered ones, (H + 2) × (W + 2) floats each, mapping channel
// c as scale_shift(·, a[c], b[c], act) does when a is not NULL: a batch
// norm's output, padded after it as the convolution pads its input.
static void pad_planes(const float *restrict x, const nk_geom *g, long n, const float *a, const float *b, int act, float *restrict q) {
	const long H = g->H, W = g->W, pw = W + 2, pplane = (H + 2) * pw;
	for (long c = 0; c < g->C; c++) {
		const float *src = x + (c * g->N + n) * H * W;
		float *dst = q + c * pplane + pw + 1;
		if (a)
			for (long r = 0; r < H; r++) map_run(dst + r * pw, src + r * W, W, a[c], b[c], act);
		else
			for (long r = 0; r < H; r++) copy_run(dst + r * pw, src + r * W, W);
	}
}

// pw_conv3x3 is the 3×3, stride-1, padding-1 convolution of images
// [n0, n1) of x (C, N, H, W), or of its batch norm's output (a not NULL:
// pad_planes), on the packed GEMM: ap holds the cout × 9C weights packed
// (pw_pack_a), each image's planes are copied into zero-bordered ones, and
// each panel of PW_NR output pixels is multiplied with its 9C rows in the
// weights' (c, ky, kx) order: read in place where each vector lies within
// an output row (W a multiple of the vector, or of 8 on AVX-512), else
// packed from runs along the rows first. Output channel co of image n goes
// to y[co·ldy + n·H·W …].
static void pw_conv3x3(const float *restrict x, const float *a, const float *b, int act, const float *restrict ap, const nk_geom *g, long cout, long n0, long n1,
                       float *restrict y, long ldy) {
	const long C = g->C, H = g->H, W = g->W, pix = H * W, K = 9 * C;
	const long pw = W + 2, pplane = (H + 2) * pw;
	float *q = calloc(C * pplane + K * PW_NR, sizeof(float));
	if (!q) __builtin_trap();
	float *bp = q + C * pplane;
	for (long n = n0; n < n1; n++) {
		pad_planes(x, g, n, a, b, act, q);
		for (long j0 = 0; j0 < pix; j0 += PW_NR) {
			const long nr = pix - j0 < PW_NR ? pix - j0 : PW_NR;
			if (W % PW_VL == 0) { // each vector within an output row: read in place
				const long j1 = nr > PW_VL ? j0 + PW_VL : j0;
				const float *q0 = q + (j0 / W) * pw + j0 % W, *q1 = q + (j1 / W) * pw + j1 % W;
				for (long i0 = 0; i0 < cout; i0 += PW_MR) {
					const long mr = cout - i0 < PW_MR ? cout - i0 : PW_MR;
					pw_micro_3x3(ap + i0 * K, q0, q1, C, pplane, pw, y + i0 * ldy + n * pix + j0, ldy, mr, nr);
				}
				continue;
			}
#if NK_LEVEL == 4
			if (W % 8 == 0) { // the same on vectors of 8, two tiles a panel
				for (long h0 = j0; h0 < j0 + nr; h0 += 16) {
					const long hn = j0 + nr - h0 < 16 ? j0 + nr - h0 : 16, h1 = hn > 8 ? h0 + 8 : h0;
					const float *q0 = q + (h0 / W) * pw + h0 % W, *q1 = q + (h1 / W) * pw + h1 % W;
					for (long i0 = 0; i0 < cout; i0 += PW_MR) {
						const long mr = cout - i0 < PW_MR ? cout - i0 : PW_MR;
						pw_micro_3x3_h(ap + i0 * K, q0, q1, C, pplane, pw, y + i0 * ldy + n * pix + h0, ldy, mr, hn);
					}
				}
				continue;
			}
#endif
			for (long c = 0; c < C; c++)
				for (long ky = 0; ky < 3; ky++)
					for (long kx = 0; kx < 3; kx++) {
						float *dst = bp + ((c * 3 + ky) * 3 + kx) * PW_NR;
						const float *qc = q + c * pplane + ky * pw + kx;
						for (long j = 0; j < nr;) { // runs along output rows
							const long oy = (j0 + j) / W, ox = (j0 + j) % W;
							const long len = W - ox < nr - j ? W - ox : nr - j;
							copy_run(dst + j, qc + oy * pw + ox, len);
							j += len;
						}
						for (long j = nr; j < PW_NR; j++) dst[j] = 0;
					}
			for (long i0 = 0; i0 < cout; i0 += PW_MR) {
				const long mr = cout - i0 < PW_MR ? cout - i0 : PW_MR;
				pw_micro(ap + i0 * K, bp, K, y + i0 * ldy + n * pix + j0, ldy, mr, nr, 0, 0);
			}
		}
	}
	free(q);
}

// IN_REG keeps v in a register: where an operand is used more than once
// GCC may fold its load into each use instead, which loads it each time
// (the 3×3 weight gradient's dy, three times a vector on AVX-512, where
// the loads then outnumbered the multiply-adds' slots).
#if defined(__x86_64__)
#define IN_REG(v) __asm__("" : "+v"(v))
#else
#define IN_REG(v) ((void)0)
#endif

// PW_WGRAD_ROWS defines name, the weight gradient of the 3×3 convolution
// for output channels [co0, co0 + PW_WR) (clamped to cout; rows past it are
// computed and dropped), input channel ci and kernel row ky, over one
// image: vectors vec of vl pixels along each output row, PW_WR × 3 (kx)
// vector sums added into part (one vector of partial sums per weight).
#define PW_WGRAD_ROWS(name, vec, vl)                                                                                  \
	__attribute__((always_inline)) static inline void name(const float *q, const float *dy, long ldc, long H,       \
	                                                       long W, long pw, long co0, long cout, float *part,        \
	                                                       long ldp) {                                              \
		vec acc[PW_WR][3];                                                                                            \
		const float *d[PW_WR];                                                                                        \
		_Pragma("GCC unroll 8") for (long r = 0; r < PW_WR; r++) {                                                   \
			acc[r][0] = acc[r][1] = acc[r][2] = (vec){};                                                             \
			d[r] = dy + (co0 + r < cout ? co0 + r : cout - 1) * ldc;                                                 \
		}                                                                                                             \
		for (long oy = 0; oy < H; oy++)                                                                              \
			for (long ox = 0; ox < W; ox += (vl)) {                                                                  \
				vec x0, x1, x2;                                                                                        \
				memcpy(&x0, q + oy * pw + ox, sizeof x0);                                                              \
				memcpy(&x1, q + oy * pw + ox + 1, sizeof x1);                                                          \
				memcpy(&x2, q + oy * pw + ox + 2, sizeof x2);                                                          \
				_Pragma("GCC unroll 8") for (long r = 0; r < PW_WR; r++) {                                           \
					vec g;                                                                                             \
					memcpy(&g, d[r] + oy * W + ox, sizeof g);                                                          \
					IN_REG(g);                                                                                         \
					acc[r][0] = g * x0 + acc[r][0];                                                                    \
					acc[r][1] = g * x1 + acc[r][1];                                                                    \
					acc[r][2] = g * x2 + acc[r][2];                                                                    \
				}                                                                                                      \
			}                                                                                                          \
		_Pragma("GCC unroll 8") for (long r = 0; r < PW_WR; r++) {                                                   \
			if (co0 + r >= cout) break;                                                                               \
			for (long kx = 0; kx < 3; kx++) {                                                                         \
				vec p;                                                                                                 \
				memcpy(&p, part + (r * ldp + kx) * (vl), sizeof p);                                                   \
				p += acc[r][kx];                                                                                       \
				memcpy(part + (r * ldp + kx) * (vl), &p, sizeof p);                                                   \
			}                                                                                                          \
		}                                                                                                              \
	}
#if NK_LEVEL == 4
#define PW_WR 6
#else
#define PW_WR 4
#endif
PW_WGRAD_ROWS(pw_wgrad_rows, pw_vec, PW_VL)
#if NK_LEVEL == 4
PW_WGRAD_ROWS(pw_wgrad_rows_h, pw_hvec, 8)
#endif

// pw_conv3x3_wgrad writes into dw (cout × C × 3 × 3) the weight gradient
// of the 3×3, stride-1, padding-1 convolution over images [n0, n1) of x
// (C, N, H, W), or of its batch norm's output (a not NULL: pad_planes), and
// dy (cout, N, H, W): each weight's products are summed in vectors of
// pixels along the rows (W a multiple of the vector, or of 8 on AVX-512),
// image after image, then across the vector. It returns -1, writing
// nothing, for a width it does not handle.
static int pw_conv3x3_wgrad(const float *restrict x, const float *a, const float *b, int act, const float *restrict dy, const nk_geom *g, long cout, long n0,
                            long n1, float *restrict dw) {
	const long C = g->C, H = g->H, W = g->W, pix = H * W, pw = W + 2, pplane = (H + 2) * pw;
	long vl;
	if (W % PW_VL == 0)
		vl = PW_VL;
#if NK_LEVEL == 4
	else if (W % 8 == 0)
		vl = 8;
#endif
	else
		return -1;
	if (n1 <= n0) return 0; // no images: nothing to write
	float *q = calloc(C * pplane + cout * C * 9 * vl, sizeof(float));
	if (!q) __builtin_trap();
	float *part = q + C * pplane;
	for (long n = n0; n < n1; n++) {
		pad_planes(x, g, n, a, b, act, q);
		for (long co0 = 0; co0 < cout; co0 += PW_WR)
			for (long ci = 0; ci < C; ci++)
				for (long ky = 0; ky < 3; ky++) {
					float *pp = part + ((co0 * C + ci) * 9 + ky * 3) * vl;
					const float *qq = q + ci * pplane + ky * pw;
#if NK_LEVEL == 4
					if (vl == 8) {
						pw_wgrad_rows_h(qq, dy + n * pix, g->N * pix, H, W, pw, co0, cout, pp, C * 9);
						continue;
					}
#endif
					pw_wgrad_rows(qq, dy + n * pix, g->N * pix, H, W, pw, co0, cout, pp, C * 9);
				}
	}
	for (long i = 0; i < cout * C * 9; i++) {
		float s = 0;
		for (long l = 0; l < vl; l++) s += part[i * vl + l];
		dw[i] = s;
	}
	free(q);
	return 0;
}

#pragma GCC pop_options

// fma_peak runs iters rounds of 12 independent multiply-add chains on the
// level's widest vectors (fused multiply-adds at x86-64-v3 and v4) and
// returns the floating-point operations done: the core's peak rate, against
// which nets.FMAPeak rates the convolutions.
static double fma_peak(long iters) {
#if NK_LEVEL == 4
	typedef float vec __attribute__((vector_size(64)));
#elif NK_LEVEL == 3
	typedef float vec __attribute__((vector_size(32)));
#else
	typedef float vec __attribute__((vector_size(16)));
#endif
	vec a[12], b, c;
	for (int j = 0; j < (int)(sizeof(vec) / sizeof(float)); j++) {
		b[j] = 0.9999f;
		c[j] = 1e-7f;
		for (int i = 0; i < 12; i++) a[i][j] = (float)i;
	}
	for (long n = 0; n < iters; n++) {
		for (int i = 0; i < 12; i++) a[i] = a[i] * b + c;
	}
	float s = 0;
	for (int i = 0; i < 12; i++) s += a[i][0];
	__asm__ volatile("" : : "g"(s));
	return (double)iters * 12 * (sizeof(vec) / sizeof(float)) * 2;
}

const nk_table NK_TABLE = {
	.scale_shift = scale_shift,
	.scale_shift_inplace = scale_shift_inplace,
	.moments = moments,
	.bn_grad_sums = bn_grad_sums,
	.bn_grad_input = bn_grad_input,
	.bn_grad_input_add = bn_grad_input_add,
	.im2col = im2col,
	.col2im = col2im,
	.maxpool2 = maxpool2,
	.conv3x3_direct = conv3x3_direct,
	.to_blocked = to_blocked,
	.from_blocked = from_blocked,
	.fma_peak = fma_peak,
	.pw_tile = pw_tile,
	.pw_pack_a = pw_pack_a,
	.pw_pack_b = pw_pack_b,
	.pw_gemm = pw_gemm,
	.pw_conv3x3 = pw_conv3x3,
	.pw_conv3x3_wgrad = pw_conv3x3_wgrad,
	.pw_wgrad_len = pw_wgrad_len,
	.pw_wgrad = pw_wgrad,
};
