// Vectorised kernels for the cgo build; see kernels.go for their contracts
// and the portable Go versions they are tested against.
#include <stddef.h>

extern int mcd_portable;

typedef struct {
	long C, N, H, W, KH, KW, Stride, Pad, OH, OW;
} mcd_geom;

void mcd_scale_shift(const float *x, float *y, long n, float a, float b, int relu);
void mcd_scale_shift_inplace(float *x, long n, float a, float b, int relu);
void mcd_moments(const float *x, long n, double *mean, double *var);
void mcd_bn_grad_sums(const float *x, const float *dy, long n, float mean, float invstd, float a, float b, int relu, double *sum_g, double *sum_gx);
void mcd_bn_grad_input(const float *x, const float *dy, float *dx, long n, float mean, float invstd, float a, float b, float k, float c1, float c2, int relu);
void mcd_im2col(const float *x, const mcd_geom *g, long n0, long n1, float *col);
void mcd_col2im(const float *col, const mcd_geom *g, long n0, long n1, float *dx);
void mcd_maxpool2(const float *x, float *y, int *argmax, long planes, long h, long w);
void mcd_conv3x3_direct(const float *x, const float *w, const mcd_geom *g, long cout, long n0, long n1, float *y, long ldy, const float *a, const float *b, int relu);
