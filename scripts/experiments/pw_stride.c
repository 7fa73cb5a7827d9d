// pw_stride.c: would a padded channel stride in a dense block's buffer,
// with the next tile's rows fetched into L2 during the GEMM, let the 1×1
// forward pass's packs overlap its arithmetic? Two threads, each a worker's
// 32 images of a (C, 64, H, W) buffer, pack (through bn1) and multiply tile
// by tile as convOp.pointwise does; four variants interleaved over 15
// rounds: rows N·H·W floats apart or 16 floats more, with or without the
// fetch. Prints each variant's GFLOP/s in its median round and its median
// ratio to the first.
//
//   gcc -O3 -fopenmp -march=native -DLEVEL=3 -o /tmp/pw_stride3 pw_stride.c -lm
//   /tmp/pw_stride3 204 1024   # C = 204 channels of 32×32 images (LEVEL=4: AVX-512)
#include <omp.h>
#include <stdio.h>
#if LEVEL == 3
#include "../../nets/kernels_v3.c"
#else
#include "../../nets/kernels_v4.c"
#endif
#include "experiments.h"
// gemm_fetch is pw_gemm fetching the nn columns of the k rows at next (ld
// apart) into L2, spread evenly over its register tiles.
static void gemm_fetch(const float *ap, const float *bp, long m, long n, long k, float *y, long ldy, const float *next, long ld, long nn) {
	long lines = (nn + 15) / 16, total = k * lines, done = 0;
	long tiles = ((n + PW_NR - 1) / PW_NR) * ((m + PW_MR - 1) / PW_MR), t = 0;
	for (long j0 = 0; j0 < n; j0 += PW_NR) {
		const long nr = n - j0 < PW_NR ? n - j0 : PW_NR;
		for (long i0 = 0; i0 < m; i0 += PW_MR) {
			const long mr = m - i0 < PW_MR ? m - i0 : PW_MR;
			pw_micro(ap + i0 * k, bp + j0 * k, k, y + i0 * ldy + j0, ldy, mr, nr, 0, 0);
			if (!next) continue;
			for (long upto = total * ++t / tiles; done < upto; done++) __builtin_prefetch(next + done / lines * ld + done % lines * 16, 0, 2);
		}
	}
}
int main(int argc, char **argv) {
	if (argc < 3) return fprintf(stderr, "usage: %s C HW\n", argv[0]), 2;
	long C = atol(argv[1]), HW = atol(argv[2]), N = 64, m = 48, P = 32 * HW;
	enum { R = 15 };
	long tile = 131072 / C / 64 * 64;
	if (tile < 64) tile = 64;
	long lds[2] = {N * HW, N * HW + 16};
	float *xs[2], *ys[2];
	for (int v = 0; v < 2; v++) {
		xs[v] = aligned_alloc(64, (C * lds[v] + 64) * 4), ys[v] = aligned_alloc(64, (m * lds[v] + 64) * 4);
		for (long i = 0; i < C * lds[v]; i++) xs[v][i] = (i % 7) * 0.1f - 0.3f;
		memset(ys[v], 0, m * lds[v] * 4);
	}
	float *w = malloc(m * C * 4), *a = malloc(C * 4), *b = malloc(C * 4);
	for (long i = 0; i < m * C; i++) w[i] = (i % 5) * 0.01f;
	for (long i = 0; i < C; i++) a[i] = 1.1f, b[i] = 0.01f;
	float *ap = aligned_alloc(64, ((m + PW_MR) * C + 64) * 4), *bps[2];
	for (int q = 0; q < 2; q++) bps[q] = aligned_alloc(64, ((tile + PW_NR) * C + 64) * 4);
	pw_pack_a(w, m, C, C, 1, ap);
	double t[4][R], r[4][R];
	for (int rep = 0; rep < R; rep++)
		for (int v = 0; v < 4; v++) {
			const int padded = v & 1, fetch = v >> 1;
			const long ld = lds[padded];
			const float *x = xs[padded];
			float *y = ys[padded];
			double t0 = now();
#pragma omp parallel num_threads(2)
			{
				int th = omp_get_thread_num();
				long Pb = th * P, Pe = Pb + P;
				for (long p0 = Pb; p0 < Pe; p0 += tile) {
					long p1 = p0 + tile < Pe ? p0 + tile : Pe, q1 = p1 + tile < Pe ? p1 + tile : Pe;
					pw_pack_b(x, ld, C, p0, p1, a, b, NK_RELU, bps[th]);
					gemm_fetch(ap, bps[th], m, p1 - p0, C, y + p0, ld, fetch && p1 < Pe ? x + p1 : NULL, ld, q1 - p1);
				}
			}
			t[v][rep] = now() - t0;
		}
	for (int v = 0; v < 4; v++)
		for (int rep = 0; rep < R; rep++) r[v][rep] = t[0][rep] / t[v][rep];
	const double flops = 2.0 * m * C * P * 2;
	const char *name[4] = {"plain", "padded", "fetch", "padded+fetch"};
	printf("C=%ld HW=%ld tile=%ld:", C, HW, tile);
	for (int v = 0; v < 4; v++) printf("  %s %.1f GFLOP/s x%.3f", name[v], flops / med(t[v], R) / 1e9, med(r[v], R));
	printf("\n");
}
