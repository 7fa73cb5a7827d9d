// pw_wgrad_packs.c: how much of a dense layer's 1×1 weight gradient
// (pw_wgrad: dw += dh·x̂ᵀ, 48 outputs of C channels through bn1, tiles of T
// columns) its two transposing packs take: the whole kernel, then the
// packs alone, alternately over 9 rounds, two threads; medians.
//
//   gcc -O3 -fopenmp -march=native -DLEVEL=3 -o /tmp/pw_wgrad_packs3 pw_wgrad_packs.c -lm
//   /tmp/pw_wgrad_packs3 204 1024 256   # C, H·W, T (LEVEL=4: AVX-512)
#include <stdio.h>
#include <omp.h>
#if LEVEL == 3
#include "../../nets/kernels_v3.c"
#else
#include "../../nets/kernels_v4.c"
#endif
#include "experiments.h"
int main(int argc, char **argv) {
	if (argc < 4) return fprintf(stderr, "usage: %s C HW T\n", argv[0]), 2;
	long C = atol(argv[1]), HW = atol(argv[2]), T = atol(argv[3]), N = 64, m = 48; int R = 9;
	long ld = N * HW;
	float *x = aligned_alloc(64, C * ld * 4), *dh = aligned_alloc(64, m * ld * 4);
	for (long i = 0; i < C * ld; i++) x[i] = (i % 7) * 0.1f - 0.3f;
	for (long i = 0; i < m * ld; i++) dh[i] = (i % 11) * 0.01f - 0.05f;
	float *a = malloc(C * 4), *b = malloc(C * 4);
	for (long i = 0; i < C; i++) { a[i] = 1.1f; b[i] = 0.01f; }
	float *ts[2], *dws[2];
	for (int q = 0; q < 2; q++) { ts[q] = aligned_alloc(64, (pw_wgrad_len(m, C, T) + 64) * 4); dws[q] = calloc(m * C, 4); }
	double tw[32], tp[32];
	for (int rep = 0; rep < R; rep++) {
		for (int v = 0; v < 2; v++) {
			double t0 = now();
#pragma omp parallel num_threads(2)
			{ int th = omp_get_thread_num(); long Pb = th * ld / 2, Pe = Pb + ld / 2;
			for (long p0 = Pb; p0 < Pe; p0 += T) {
				long p1 = p0 + T < Pe ? p0 + T : Pe;
				if (v == 0) pw_wgrad(dh, ld, m, x, ld, C, p0, p1, a, b, NK_RELU, ts[th], dws[th]);
				else { pw_pack_panels(dh, ld, m, p0, p1 - p0, NULL, NULL, 0, PW_MR, ts[th]); pw_pack_panels(x, ld, C, p0, p1 - p0, a, b, NK_RELU, PW_NR, ts[th] + (m + PW_MR - 1) / PW_MR * PW_MR * (p1 - p0)); }
			} }
			double t = now() - t0;
			if (v == 0) tw[rep] = t; else tp[rep] = t;
		}
	}
	double fl = 2.0 * m * C * ld;
	printf("C=%ld HW=%ld tile=%ld: wgrad %.2f ms (%.1f GF/s), packs alone %.2f ms (%.0f%%)\n", C, HW, T, med(tw, R) * 1e3, fl / med(tw, R) / 1e9, med(tp, R) * 1e3, 100 * med(tp, R) / med(tw, R));
}
