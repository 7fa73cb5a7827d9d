//go:build !dnnl || !openblas || !cgo

package nets

const dnnlBuilt = false

// dnnlConv stands in for the oneDNN convolution of the dnnl build: it never
// runs a pass.
type dnnlConv struct{}

func (*dnnlConv) run(int, geom, int, bool, bool, []float32, []float32, []float32) bool { return false }
func (*dnnlConv) impl(int) string                                                      { return "" }
func (*dnnlConv) reuses() int                                                          { return 0 }
func (*dnnlConv) forget()                                                              {}

func dnnlInit() error     { return nil }
func dnnlVersion() string { return "" }
