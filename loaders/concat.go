package loaders

// Concat joins image sets into one unlabelled set named name (labels,
// classes and sources are dropped).
func Concat(name string, sets ...*Dataset) *Dataset {
	n := 0
	for _, d := range sets {
		n += len(d.Pixels)
	}
	out := &Dataset{Name: name, Pixels: make([]byte, 0, n)}
	for _, d := range sets {
		out.Pixels = append(out.Pixels, d.Pixels...)
	}
	return out
}
