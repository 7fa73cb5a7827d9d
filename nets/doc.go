// Package nets is the neural engine: two-head convolutional networks (a
// feature extractor G and two linear classifier heads C1, C2, the network of
// Yu & Aizawa, ICCV 2019), the graphs that train and evaluate them, SGD,
// checkpoints and batched prediction. It is the only package that imports
// gorgonia, and it knows no detection method: a method composes the training
// step it needs from the pieces a Graph offers (package mcd writes MCD's two
// steps that way). Pre-training offers one loss beyond (label-smoothed)
// cross-entropy, the entropy margin on held-out images of Vyas et al. (ECCV
// 2018; TrainConfig.EntropyMargin), because it runs inside the cached,
// resumable pre-training loop; the detector that uses it is in package
// baselines.
//
// Published networks (ODIN's DenseNet-BC-100s, a CIFAR ResNet-56) load
// from their PyTorch files as released (LoadTorchFile): package torchfile
// reads the file without Python or gorgonia, and each loadable architecture
// says which of the authors' modules each of its layers is. Their logits
// agree with PyTorch's within 1e-3 on every kernel path (TestTorchGolden,
// against scripts/torch_golden.py).
//
// # How it works
//
// Gorgonia builds the graph, orders it and drives the chain rule (G.Grad);
// every layer is one of this package's own ops, which do the arithmetic on a
// channel-major, batch-second layout (C, N, H, W): one channel of a whole
// batch is one contiguous row, so batch norm works on plain rows and a
// convolution over the batch is im2col and one matrix product (OpenBLAS
// through cgo, or gonum's pure-Go BLAS). Stock gorgonia v0.9.18 is slow and
// wrong in several of the ops needed here (shared/DESIGN.md); the only stock
// op in our graphs is the Add that sums the gradients of a value used twice.
//
// The ops keep to these rules, which is what makes the tape machine fast and
// correct with them:
//
//   - Each op value belongs to exactly one node and owns that node's output
//     buffer, reused on every run, so a training step allocates (almost)
//     nothing. Its hash includes a unique id, so gorgonia never merges two
//     nodes (its common-subexpression pass merged SoftMax and LogSoftMax).
//   - An op never returns one of its inputs — except an evaluation-mode
//     batch norm fused into the convolution before it (builder.fuseConvBN),
//     which passes its input through; fusion happens only in graphs without
//     gradients, where no stock Add could overwrite the shared buffer.
//   - A backward op may read buffers of its forward op that are not graph
//     values — batch statistics, softmax probabilities, dropout masks, the
//     column matrices (on oneDNN, the blocked input) a convolution keeps,
//     the bottleneck outputs a dense block keeps — because the tape runs the
//     whole forward pass before any backward op and nothing else writes
//     them. Every tensor a backward op reads that is a graph value comes in
//     as one of its inputs, so gorgonia's liveness analysis sees every use.
//   - Ops report CallsExtern() == false even when they call BLAS: otherwise
//     the tape machine inserts an allocation before each of them.
//
// Every op's gradient is checked against finite differences in the tests, and
// so are whole networks (including evaluation-mode batch norm and the input
// gradient ODIN follows). Training is deterministic for a seed, a thread
// count and a kernel level; a resumed run gets bit-identical weights.
//
// # Files
//
//	doc.go              this overview
//	model.go            Model (parameters, batch-norm statistics), New, Clone
//	graph.go            Graph: the pieces a caller composes a program from
//	program.go          Program (a compiled graph), the evaluation, pre-training
//	                    and input-gradient programs, HeadMode
//	train.go            Source (what training reads), Train
//	predict.go          Predict, Outputs, test-time-augmentation views
//	argmax.go           Argmax
//	machine.go          the engine banner (Engine), threads, the GC target
//	                    (GCPercent), Machine
//	throughput.go       MeasureThroughput, Rates, ProfileCPU (mcdood bench)
//	peer.go             RunPeer: the PyTorch peer benchmark's rates
//	opprofile.go        per-op wall-clock profile: Program.ProfileOps, OpProfile (mcdood bench --ops)
//	sgd.go              SGD with PyTorch's semantics, learning-rate schedules
//	checkpoint.go       versioned, checksummed checkpoints written atomically
//	builder.go          layers into a graph (convolution, batch norm, pooling,
//	                    linear, …) and the batch-norm fusion of evaluation graphs
//	arch.go             Spec: architectures by name (ParseSpec), the family
//	                    registry
//	arch_*.go           one architecture each: small, DenseNet-BC, WRN, ResNet-9,
//	                    the CIFAR ResNet (option A), airbench, MLP
//	torch.go            published PyTorch networks (read by package torchfile)
//	                    into a Model: the name maps, LoadTorch, the input
//	                    Normalization a network was trained with, SetHead
//	op.go               what every op shares
//	op_*.go             the ops: convolution, batch norm (+ReLU), pooling, layout
//	                    (NCHW↔CNHW, concatenation), linear, losses, scalars and
//	                    the rest (dropout, ReLU, Detach, sums)
//	op_dense.go         a whole DenseNet-BC dense block as one op over shared
//	                    storage, recomputing in the backward pass (Pleiss et
//	                    al. 2017)
//	kernels.go          the kernels the ops spend their time in, as Go reference
//	                    loops; kernel levels (KernelsEnv)
//	kernels_native.go   the cgo build's kernels: C, one copy per x86-64 level
//	kernels_cgo.h       their contract; kernels_body.h their source, compiled by
//	                    kernels_v4.c (AVX-512), kernels_v3.c (AVX2),
//	                    kernels_v1.c (baseline), called through kernels_dispatch.c;
//	                    among them the packed GEMM (pw_*) that runs 1×1
//	                    convolutions and the 3×3 ones oneDNN would pad
//	kernels_go.go       the pure-Go build's one level
//	conv_engine.go      how large convolutions run (ConvEnv): oneDNN or
//	                    im2col and the BLAS; conv_dnnl.go is the dnnl build's
//	                    oneDNN convolution, conv_nodnnl.go its stand-in
//	blas*.go            sgemm: OpenBLAS (tag openblas) or gonum; CoreEnv
//	gemmcheck.go        bounds checks before a cgo BLAS call
//	parallel.go         the worker pool the kernels split images over
package nets
