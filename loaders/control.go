package loaders

import (
	"errors"
	"fmt"
	"os"
)

// cifar10-jpeg is the artefact control of the ODIN-built sets:
// the CIFAR-10 test images put through FitODINResize, ODIN's construction of
// its resize sets. A 32×32 image's nearest-neighbour resize to 32×32 is the
// identity, so what changes is the JPEG step alone (quality 75, 4:2:0);
// the content is the in-distribution set's own. Scored as OOD against the ID
// test images, a method's AUROC on it is what it gets from the JPEG artefact
// without any change of content. (The aliasing half of ODIN's construction
// needs a larger source than CIFAR's 32×32; tinyimagenet-resize against
// tinyimagenet-resize-fix measures both halves together on one content.)
// On the project's data mirror, test images 1,000–9,999 were themselves
// rebuilt from quality-75 JPEG copies, so there the control re-encodes
// most images a second time.
const cifarJPEGName = "cifar10-jpeg"

// locateCIFARTest finds the CIFAR-10 files a control set is made from.
func locateCIFARTest(root, name string) (Source, error) {
	p, _, err := cifar10Layout.locate(root)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return Source{}, &NotFoundError{Name: name, Root: root, Looked: nf.Looked, Fetch: "cifar10"}
	}
	if err != nil {
		return Source{}, err
	}
	return Source{Name: name, Path: p, Fit: FitODINResize, Derived: true}, nil
}

// openCIFARJPEG reads the CIFAR-10 test images at p (the folder or the
// official archive) and applies FitODINResize to each, in order; the set is
// unlabelled.
func openCIFARJPEG(name, p string) (*Dataset, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	var test *Dataset
	if st.IsDir() {
		_, test, err = cifar10Layout.readDir(p)
	} else {
		_, test, err = cifar10Layout.readArchive(p)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := &Dataset{Name: name, Pixels: make([]byte, len(test.Pixels)), Sources: make([]string, test.Len())}
	im := rgbImage{w: Side, h: Side, pix: make([]byte, 3*PlaneBytes)}
	for i := range test.Len() {
		src := test.Image(i)
		for o := range PlaneBytes {
			im.pix[3*o], im.pix[3*o+1], im.pix[3*o+2] = src[o], src[PlaneBytes+o], src[2*PlaneBytes+o]
		}
		toPlanar(odinResize(im), 0, 0, out.Image(i))
		out.Sources[i] = fmt.Sprintf("%s: test image %d, %s", p, i, FitODINResize)
	}
	return out, nil
}
