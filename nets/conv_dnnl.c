//go:build dnnl && openblas && cgo

// The convolution on oneDNN (Intel's deep-learning primitives, the library
// PyTorch's CPU convolutions run on): its direct convolution feeds its
// micro-kernel from blocked activations, with no column matrix and no GEMM
// packing. Our (C, N, H, W) activations are described to it by strides;
// oneDNN picks its own layouts ("any") and each pass reorders into and out of
// them, through three buffers shared by every convolution (calls hold one
// lock, and each uses all threads), so that a network's memory does not grow
// by a blocked copy per layer. Two reorders of a training step are skipped:
// a convolution made with keep holds its forward pass's blocked input for
// its weight gradient (as the GEMM path keeps its column matrix), and the
// weight gradient takes the blocked output gradient that the input gradient
// of the same convolution has just reordered, when it runs right after it.

#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "conv_dnnl.h"
#include "kernels_cgo.h"

static pthread_mutex_t dc_mu = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t dc_engine;
static dnnl_stream_t dc_stream;

// The last pass that ran (under dc_mu), and its second input: while it is a
// convolution's input gradient, arena 1 holds that output gradient, blocked.
static struct {
	dc_conv *cv;
	int which;
	const void *in1;
} dc_last;

// The shared buffers for the blocked copies of a pass's two inputs and output.
static struct {
	void *p;
	size_t n;
} dc_arena[3];

static void *arena(int i, size_t n) {
	if (dc_arena[i].n < n) {
		free(dc_arena[i].p);
		size_t size = (n + 63) & ~(size_t)63;
		dc_arena[i].p = aligned_alloc(64, size);
		dc_arena[i].n = dc_arena[i].p ? size : 0;
	}
	return dc_arena[i].p;
}

int dc_init(int avx2_only) {
	pthread_mutex_lock(&dc_mu);
	dnnl_status_t st = dnnl_success;
	if (dc_engine == NULL) {
		if (avx2_only)
			st = dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2);
		if (st == dnnl_success)
			st = dnnl_engine_create(&dc_engine, dnnl_cpu, 0);
		if (st == dnnl_success)
			st = dnnl_stream_create(&dc_stream, dc_engine, dnnl_stream_default_flags);
	}
	pthread_mutex_unlock(&dc_mu);
	return st;
}

const char *dc_status(int status) { return dnnl_status2str((dnnl_status_t)status); }

// An argument of a pass: the caller's memory, and where the primitive wants
// it in another layout, the blocked memory and the reorder between them. An
// activation whose blocked layout is one that nk_to_blocked writes (nChw16c,
// nChw8c or NHWC) is copied by those kernels, in parallel, instead of by a
// oneDNN reorder (11 GB/s against their 15-17 inside a training step on a
// Zen 4).
typedef struct {
	int arg;
	dnnl_memory_t user, blocked;
	dnnl_primitive_t reorder;
	long fast_b, n, c, hw; // fast_b: the kernels' block (0: the reorder)
} operand;

typedef struct {
	int built;
	dnnl_status_t failed;
	dnnl_primitive_desc_t pd;
	dnnl_primitive_t prim;
	operand op[3]; // two inputs, then the output
} pass_t;

struct dc_conv {
	dnnl_dims_t src, wei, dst, strides, pad;
	dnnl_memory_desc_t src_md, wei_md, dst_md; // the caller's layouts
	int inference, keep;
	pass_t pass[3];
	// keep: the forward pass's blocked input (allocated when that pass is
	// built) and the caller's buffer it was reordered from (NULL until a
	// forward pass ran).
	void *kept;
	const void *kept_of;
	// The weight gradient's src and diff_dst are in the layouts the forward
	// pass's src and the input gradient's diff_dst are.
	int same_src, same_diff_dst;
	long reuses; // reorders skipped (dc_reuses)
};

dc_conv *dc_new(long n, long c, long h, long w, long cout, long kh, long kw,
                long stride, long pad, int inference, int keep) {
	dc_conv *cv = calloc(1, sizeof *cv);
	if (cv == NULL)
		return NULL;
	long oh = (h + 2 * pad - kh) / stride + 1, ow = (w + 2 * pad - kw) / stride + 1;
	dnnl_dims_t src = {n, c, h, w}, wei = {cout, c, kh, kw}, dst = {n, cout, oh, ow};
	// (C, N, H, W): a channel is n·h·w floats, an image's plane h·w.
	dnnl_dims_t src_str = {h * w, n * h * w, w, 1}, dst_str = {oh * ow, n * oh * ow, ow, 1};
	memcpy(cv->src, src, sizeof src);
	memcpy(cv->wei, wei, sizeof wei);
	memcpy(cv->dst, dst, sizeof dst);
	cv->strides[0] = cv->strides[1] = stride;
	cv->pad[0] = cv->pad[1] = pad;
	cv->inference = inference;
	cv->keep = keep;
	if (dnnl_memory_desc_init_by_strides(&cv->src_md, 4, src, dnnl_f32, src_str) != dnnl_success ||
	    dnnl_memory_desc_init_by_tag(&cv->wei_md, 4, wei, dnnl_f32, dnnl_abcd) != dnnl_success ||
	    dnnl_memory_desc_init_by_strides(&cv->dst_md, 4, dst, dnnl_f32, dst_str) != dnnl_success) {
		free(cv);
		return NULL;
	}
	return cv;
}

// forward_pd builds the forward primitive descriptor: the pass itself, or the
// hint a backward pass is built from.
static dnnl_status_t forward_pd(dc_conv *cv, dnnl_prop_kind_t kind, dnnl_primitive_desc_t *pd) {
	dnnl_memory_desc_t s, w, d;
	dnnl_convolution_desc_t desc;
	dnnl_status_t st;
	if ((st = dnnl_memory_desc_init_by_tag(&s, 4, cv->src, dnnl_f32, dnnl_format_tag_any)) ||
	    (st = dnnl_memory_desc_init_by_tag(&w, 4, cv->wei, dnnl_f32, dnnl_format_tag_any)) ||
	    (st = dnnl_memory_desc_init_by_tag(&d, 4, cv->dst, dnnl_f32, dnnl_format_tag_any)) ||
	    (st = dnnl_convolution_forward_desc_init(&desc, kind, dnnl_convolution_direct, &s, &w, NULL, &d,
	                                             cv->strides, cv->pad, cv->pad)))
		return st;
	return dnnl_primitive_desc_create(pd, &desc, NULL, dc_engine, NULL);
}

// kernel_block is the block of nk_to_blocked that lays out activations
// (dims n, c, h, w) as want, or 0.
static long kernel_block(const dnnl_memory_desc_t *want) {
	const struct {
		dnnl_format_tag_t tag;
		long b;
	} layouts[] = {{dnnl_aBcd16b, 16}, {dnnl_aBcd8b, 8}, {dnnl_acdb, want->dims[1]}};
	for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
		dnnl_memory_desc_t m;
		if (dnnl_memory_desc_init_by_tag(&m, 4, want->dims, dnnl_f32, layouts[i].tag) == dnnl_success &&
		    dnnl_memory_desc_equal(&m, want))
			return layouts[i].b;
	}
	return 0;
}

// bind prepares an operand: user is the caller's layout, want the
// primitive's; output operands reorder from want to user. activation marks
// the caller's (C, N, H, W) layout.
static dnnl_status_t bind(operand *o, int arg, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want, int output,
                          int activation) {
	dnnl_status_t st;
	o->arg = arg;
	if ((st = dnnl_memory_create(&o->user, user, dc_engine, DNNL_MEMORY_NONE)))
		return st;
	if (dnnl_memory_desc_equal(user, want))
		return dnnl_success;
	if ((st = dnnl_memory_create(&o->blocked, want, dc_engine, DNNL_MEMORY_NONE)))
		return st;
	if (activation && (o->fast_b = kernel_block(want)) > 0) {
		o->n = want->dims[0], o->c = want->dims[1], o->hw = want->dims[2] * want->dims[3];
		return dnnl_success;
	}
	dnnl_primitive_desc_t rpd;
	st = output ? dnnl_reorder_primitive_desc_create(&rpd, want, dc_engine, user, dc_engine, NULL)
	            : dnnl_reorder_primitive_desc_create(&rpd, user, dc_engine, want, dc_engine, NULL);
	if (st)
		return st;
	st = dnnl_primitive_create(&o->reorder, rpd);
	dnnl_primitive_desc_destroy(rpd);
	return st;
}

static dnnl_status_t build(dc_conv *cv, int which) {
	pass_t *p = &cv->pass[which];
	dnnl_status_t st;
	dnnl_primitive_desc_t hint = NULL;
	if (which == DC_FORWARD) {
		st = forward_pd(cv, cv->inference ? dnnl_forward_inference : dnnl_forward_training, &p->pd);
	} else {
		if ((st = forward_pd(cv, dnnl_forward_training, &hint)))
			return st;
		dnnl_memory_desc_t s, w, d;
		dnnl_convolution_desc_t desc;
		if (!(st = dnnl_memory_desc_init_by_tag(&s, 4, cv->src, dnnl_f32, dnnl_format_tag_any)) &&
		    !(st = dnnl_memory_desc_init_by_tag(&w, 4, cv->wei, dnnl_f32, dnnl_format_tag_any)) &&
		    !(st = dnnl_memory_desc_init_by_tag(&d, 4, cv->dst, dnnl_f32, dnnl_format_tag_any))) {
			st = which == DC_BACKWARD_DATA
			         ? dnnl_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &s, &w, &d,
			                                                    cv->strides, cv->pad, cv->pad)
			         : dnnl_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &s, &w, NULL, &d,
			                                                       cv->strides, cv->pad, cv->pad);
		}
		if (!st)
			st = dnnl_primitive_desc_create(&p->pd, &desc, NULL, dc_engine, hint);
		dnnl_primitive_desc_destroy(hint);
	}
	if (st)
		return st;
	if ((st = dnnl_primitive_create(&p->prim, p->pd)))
		return st;
#define MD(q) dnnl_primitive_desc_query_md(p->pd, q, 0)
	switch (which) {
	case DC_FORWARD:
		if ((st = bind(&p->op[0], DNNL_ARG_SRC, &cv->src_md, MD(dnnl_query_src_md), 0, 1)) ||
		    (st = bind(&p->op[1], DNNL_ARG_WEIGHTS, &cv->wei_md, MD(dnnl_query_weights_md), 0, 0)) ||
		    (st = bind(&p->op[2], DNNL_ARG_DST, &cv->dst_md, MD(dnnl_query_dst_md), 1, 1)))
			return st;
		if (cv->keep && p->op[0].blocked != NULL) {
			size_t size = (dnnl_memory_desc_get_size(MD(dnnl_query_src_md)) + 63) & ~(size_t)63;
			if ((cv->kept = aligned_alloc(64, size)) == NULL)
				return dnnl_out_of_memory;
		}
		return dnnl_success;
	case DC_BACKWARD_DATA:
		if ((st = bind(&p->op[0], DNNL_ARG_WEIGHTS, &cv->wei_md, MD(dnnl_query_weights_md), 0, 0)) ||
		    (st = bind(&p->op[1], DNNL_ARG_DIFF_DST, &cv->dst_md, MD(dnnl_query_diff_dst_md), 0, 1)))
			return st;
		return bind(&p->op[2], DNNL_ARG_DIFF_SRC, &cv->src_md, MD(dnnl_query_diff_src_md), 1, 1);
	default:
		if ((st = bind(&p->op[0], DNNL_ARG_SRC, &cv->src_md, MD(dnnl_query_src_md), 0, 1)) ||
		    (st = bind(&p->op[1], DNNL_ARG_DIFF_DST, &cv->dst_md, MD(dnnl_query_diff_dst_md), 0, 1)))
			return st;
		return bind(&p->op[2], DNNL_ARG_DIFF_WEIGHTS, &cv->wei_md, MD(dnnl_query_diff_weights_md), 1, 0);
	}
#undef MD
}

// same_layout reports whether operand a of pass pa and operand b of pass pb,
// both built, are both reordered, into the same layout.
static int same_layout(dc_conv *cv, int pa, int a, int pb, int b) {
	dnnl_memory_t ma = cv->pass[pa].op[a].blocked, mb = cv->pass[pb].op[b].blocked;
	const dnnl_memory_desc_t *da, *db;
	return cv->pass[pa].built && !cv->pass[pa].failed && cv->pass[pb].built && !cv->pass[pb].failed &&
	       ma != NULL && mb != NULL &&
	       dnnl_memory_get_memory_desc(ma, &da) == dnnl_success &&
	       dnnl_memory_get_memory_desc(mb, &db) == dnnl_success && dnnl_memory_desc_equal(da, db);
}

// reorder copies the caller's user into the operand's blocked memory, or
// for an output back, and returns when the copy is done.
static dnnl_status_t reorder(operand *o, int output, void *user, void *blocked) {
	if (o->fast_b > 0) {
		const long tasks = o->n * ((o->c + o->fast_b - 1) / o->fast_b);
#pragma omp parallel
		{
			const long nt = omp_get_num_threads(), id = omp_get_thread_num();
			const long t0 = tasks * id / nt, t1 = tasks * (id + 1) / nt;
			if (output)
				nk_from_blocked(blocked, o->c, o->n, o->hw, o->fast_b, t0, t1, user);
			else
				nk_to_blocked(user, o->c, o->n, o->hw, o->fast_b, t0, t1, blocked);
		}
		return dnnl_success;
	}
	dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, output ? o->blocked : o->user},
	                           {DNNL_ARG_TO, output ? o->user : o->blocked}};
	dnnl_status_t st = dnnl_primitive_execute(o->reorder, dc_stream, 2, args);
	return st ? st : dnnl_stream_wait(dc_stream);
}

// blocked_input returns the buffer a pass's blocked input i goes in, and
// whether it holds that input already.
static void *blocked_input(dc_conv *cv, int which, int i, const void *user, size_t size, int *ready) {
	*ready = 0;
	if (i == 0 && cv->kept != NULL && which == DC_FORWARD)
		return cv->kept;
	if (i == 0 && cv->kept != NULL && which == DC_BACKWARD_WEIGHTS && cv->same_src && cv->kept_of == user) {
		*ready = 1;
		return cv->kept;
	}
	*ready = i == 1 && which == DC_BACKWARD_WEIGHTS && cv->same_diff_dst && dc_last.cv == cv &&
	         dc_last.which == DC_BACKWARD_DATA && dc_last.in1 == user;
	return arena(i, size);
}

static dnnl_status_t run(dc_conv *cv, int which, const float *in0, const float *in1, float *out) {
	pass_t *p = &cv->pass[which];
	void *ptr[3] = {(void *)in0, (void *)in1, out};
	dnnl_exec_arg_t args[3];
	dnnl_status_t st;
	if (which == DC_FORWARD)
		cv->kept_of = NULL;
	for (int i = 0; i < 3; i++) {
		operand *o = &p->op[i];
		if ((st = dnnl_memory_set_data_handle(o->user, ptr[i])))
			return st;
		dnnl_memory_t m = o->user;
		if (o->blocked != NULL) {
			const dnnl_memory_desc_t *md;
			if ((st = dnnl_memory_get_memory_desc(o->blocked, &md)))
				return st;
			size_t size = dnnl_memory_desc_get_size(md);
			int ready = 0;
			void *buf = i < 2 ? blocked_input(cv, which, i, ptr[i], size, &ready) : arena(i, size);
			if (buf == NULL)
				return dnnl_out_of_memory;
			if ((st = dnnl_memory_set_data_handle(o->blocked, buf)))
				return st;
			if (ready)
				cv->reuses++;
			else if (i < 2 && (st = reorder(o, 0, ptr[i], buf)))
				return st;
			m = o->blocked;
		}
		args[i] = (dnnl_exec_arg_t){o->arg, m};
	}
	if ((st = dnnl_primitive_execute(p->prim, dc_stream, 3, args)) || (st = dnnl_stream_wait(dc_stream)))
		return st;
	if (p->op[2].blocked != NULL) {
		void *buf;
		if ((st = dnnl_memory_get_data_handle(p->op[2].blocked, &buf)) || (st = reorder(&p->op[2], 1, out, buf)))
			return st;
	}
	if (which == DC_FORWARD && cv->kept != NULL)
		cv->kept_of = in0;
	return dnnl_success;
}

int dc_run(dc_conv *cv, int which, const float *in0, const float *in1, float *out, int threads) {
	if (which < 0 || which > 2)
		return dnnl_invalid_arguments;
	pthread_mutex_lock(&dc_mu);
	pass_t *p = &cv->pass[which];
	dnnl_status_t st = dc_engine == NULL ? dnnl_invalid_arguments : p->failed;
	// Before building too: oneDNN divides a primitive's work by the thread
	// count it sees when it builds it.
	omp_set_num_threads(threads);
	if (st == dnnl_success && !p->built) {
		p->built = 1;
		st = p->failed = build(cv, which);
		cv->same_src = same_layout(cv, DC_FORWARD, 0, DC_BACKWARD_WEIGHTS, 0);
		cv->same_diff_dst = same_layout(cv, DC_BACKWARD_DATA, 1, DC_BACKWARD_WEIGHTS, 1);
	}
	if (st == dnnl_success)
		st = run(cv, which, in0, in1, out);
	dc_last.cv = st == dnnl_success ? cv : NULL;
	dc_last.which = which;
	dc_last.in1 = in1;
	pthread_mutex_unlock(&dc_mu);
	return st;
}


const char *dc_impl(dc_conv *cv, int which) {
	const char *name = "";
	if (which >= 0 && which <= 2 && cv->pass[which].pd != NULL)
		dnnl_primitive_desc_query(cv->pass[which].pd, dnnl_query_impl_info_str, 0, &name);
	return name;
}

void dc_forget(dc_conv *cv) {
	pthread_mutex_lock(&dc_mu);
	cv->kept_of = NULL;
	if (dc_last.cv == cv)
		dc_last.cv = NULL;
	pthread_mutex_unlock(&dc_mu);
}

long dc_reuses(dc_conv *cv) {
	pthread_mutex_lock(&dc_mu);
	long n = cv->reuses;
	pthread_mutex_unlock(&dc_mu);
	return n;
}

void dc_free(dc_conv *cv) {
	if (cv == NULL)
		return;
	pthread_mutex_lock(&dc_mu);
	if (dc_last.cv == cv)
		dc_last.cv = NULL;
	pthread_mutex_unlock(&dc_mu);
	free(cv->kept);
	for (int i = 0; i < 3; i++) {
		pass_t *p = &cv->pass[i];
		for (int j = 0; j < 3; j++) {
			if (p->op[j].user)
				dnnl_memory_destroy(p->op[j].user);
			if (p->op[j].blocked)
				dnnl_memory_destroy(p->op[j].blocked);
			if (p->op[j].reorder)
				dnnl_primitive_destroy(p->op[j].reorder);
		}
		if (p->prim)
			dnnl_primitive_destroy(p->prim);
		if (p->pd)
			dnnl_primitive_desc_destroy(p->pd);
	}
	free(cv);
}
