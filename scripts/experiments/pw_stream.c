// pw_stream.c: a dense layer's 1×1 input gradient (C outputs from the 48
// rows of dh) into ds1 through the caches or past them (pw_gemm's stream),
// then bn1's backward reading ds1 back (sums, then the input gradient added
// into acc), as denseBlockGradOp runs them. Two threads; the two variants
// interleaved over 11 rounds; medians.
//
//   gcc -O3 -fopenmp -march=native -DLEVEL=3 -o /tmp/pw_stream3 pw_stream.c -lm
//   /tmp/pw_stream3 204 1024   # C = 204 channels of 32×32 images (LEVEL=4: AVX-512)
#include <omp.h>
#include <stdio.h>
#if LEVEL == 3
#include "../../nets/kernels_v3.c"
#else
#include "../../nets/kernels_v4.c"
#endif
#include "experiments.h"
int main(int argc, char **argv) {
	if (argc < 3) return fprintf(stderr, "usage: %s C HW\n", argv[0]), 2;
	long C = atol(argv[1]), HW = atol(argv[2]), N = 64, m = 48;
	enum { R = 11 };
	long ld = N * HW, tile = 131072 / C / 64 * 64;
	if (tile < 64) tile = 64;
	float *x = aligned_alloc(64, C * ld * 4), *ds = aligned_alloc(64, C * ld * 4), *acc = aligned_alloc(64, C * ld * 4);
	float *dh = aligned_alloc(64, m * ld * 4), *w = malloc(m * C * 4);
	for (long i = 0; i < C * ld; i++) x[i] = (i % 7) * 0.1f - 0.3f, acc[i] = 0, ds[i] = 0;
	for (long i = 0; i < m * ld; i++) dh[i] = (i % 11) * 0.01f - 0.05f;
	for (long i = 0; i < m * C; i++) w[i] = (i % 5) * 0.01f;
	float *ap = aligned_alloc(64, ((C + PW_MR) * m + 64) * 4), *bps[2];
	for (int q = 0; q < 2; q++) bps[q] = aligned_alloc(64, ((tile + PW_NR) * m + 64) * 4);
	pw_pack_a(w, C, m, 1, C, ap);
	double tg[2][R], tb[2][R], tt[2][R], ratio[R];
	for (int rep = 0; rep < R; rep++)
		for (int stream = 0; stream < 2; stream++) {
			double t0 = now();
#pragma omp parallel num_threads(2)
			{
				int th = omp_get_thread_num();
				long Pb = th * ld / 2, Pe = Pb + ld / 2;
				for (long p0 = Pb; p0 < Pe; p0 += tile) {
					long p1 = p0 + tile < Pe ? p0 + tile : Pe;
					pw_pack_b(dh, ld, m, p0, p1, NULL, NULL, 0, bps[th]);
					pw_gemm(ap, bps[th], C, p1 - p0, m, ds + p0, ld, stream);
				}
			}
			double t1 = now();
#pragma omp parallel for num_threads(2) schedule(static)
			for (long c = 0; c < C; c++) {
				double sg, sgx;
				bn_grad_sums(x + c * ld, ds + c * ld, ld, 0.1f, 1.2f, 1.1f, 0.01f, NK_RELU, &sg, &sgx);
				bn_grad_input_add(x + c * ld, ds + c * ld, acc + c * ld, acc + c * ld, ld, 0.1f, 1.2f, 1.1f, 0.01f, 1.1f, sg / ld, sgx / ld, NK_RELU);
			}
			double t2 = now();
			tg[stream][rep] = t1 - t0, tb[stream][rep] = t2 - t1, tt[stream][rep] = t2 - t0;
		}
	for (int rep = 0; rep < R; rep++) ratio[rep] = tt[0][rep] / tt[1][rep];
	printf("C=%ld HW=%ld: through the caches: input gradient %.2f ms, bn1 backward %.2f, both %.2f | streamed: %.2f, %.2f, %.2f | x%.3f\n", C, HW,
	       med(tg[0], R) * 1e3, med(tb[0], R) * 1e3, med(tt[0], R) * 1e3, med(tg[1], R) * 1e3, med(tb[1], R) * 1e3, med(tt[1], R) * 1e3, med(ratio, R));
}
