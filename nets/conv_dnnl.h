// The oneDNN convolution (conv_dnnl.c), for the dnnl build. Activations are
// in this package's (C, N, H, W) layout, weights in (Cout, Cin, KH, KW); each
// call reorders them into the layouts oneDNN's direct convolution chose and
// back.
#ifndef MCDOOD_CONV_DNNL_H
#define MCDOOD_CONV_DNNL_H

typedef struct dc_conv dc_conv;

// The three passes of a convolution.
enum { DC_FORWARD = 0, DC_BACKWARD_DATA = 1, DC_BACKWARD_WEIGHTS = 2 };

// dc_init starts oneDNN, capping its instruction set at AVX2 when avx2_only
// (otherwise it takes the best the CPU has); it returns 0 or a oneDNN status.
int dc_init(int avx2_only);

// dc_new describes a convolution of a batch of n images of c channels, h×w,
// by cout kernels kh×kw at the given stride and zero padding; inference
// marks an evaluation-mode forward pass, and keep makes the forward pass hold
// its blocked input for the weight gradient of the same input (which must not
// change in between: the caller's forward and backward passes of one step).
// The primitives are built lazily.
dc_conv *dc_new(long n, long c, long h, long w, long cout, long kh, long kw,
                long stride, long pad, int inference, int keep);

// dc_run runs one pass on threads threads: forward (x, w) -> y, backward data
// (w, dy) -> dx, backward weights (x, dy) -> dw. It returns 0, or a oneDNN
// status (dc_status names it) when a primitive cannot be built or run;
// nothing is written then.
int dc_run(dc_conv *cv, int pass, const float *in0, const float *in1, float *out, int threads);

// dc_reuses counts the reorders cv has skipped: a kept input, or an output
// gradient the input-gradient pass left blocked for the weight gradient.
long dc_reuses(dc_conv *cv);

// dc_forget drops what cv's passes left for its next ones (the forward
// pass's input, the input gradient's blocked output gradient): the caller
// computed a pass itself, so they are not of its operands.
void dc_forget(dc_conv *cv);

// dc_impl names the implementation oneDNN chose for a pass that has run.
const char *dc_impl(dc_conv *cv, int pass);

const char *dc_status(int status);

void dc_free(dc_conv *cv);

#endif
