// experiments.h: the clock and median the experiments' programs share.
#include <stdlib.h>
#include <time.h>

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

// med sorts v (n values) and returns its median.
static double med(double *v, int n) {
	qsort(v, n, sizeof *v, cmp_double);
	return v[n / 2];
}
