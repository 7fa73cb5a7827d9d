package experiments

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
)

// Where the ID validation images come from (File.IDValidation).
const (
	// IDValidationSplit is the paper's split of the ID test set.
	IDValidationSplit = "split"
	// IDValidationAfterTest draws the validation images from the ID test
	// images after the first test_images, which are all scored. On the
	// project's data mirror the first 1,000 CIFAR-10 test images are exact
	// and the rest were rebuilt from JPEG copies: a network trained on the
	// real CIFAR-10 is then scored on exact images and validated (ODIN's
	// tuning, MCD's epoch selection) on JPEG-rebuilt ones, which it
	// classifies about 11 points worse.
	IDValidationAfterTest = "after-test-images"
)

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// idClasses is the number of classes of each in-distribution set.
var idClasses = map[string]int{"cifar10": 10, "cifar100": 100}

// checkPublished validates a recipe that loads a published network: a known
// weights name or a path with its sha256, an architecture the loader maps,
// and no training keys. It fills r.WeightsSHA256 from the pinned checksum of
// a named file, so that model keys always hash the file's contents.
func checkPublished(spec nets.Spec, r *Recipe, ids []string) (string, error) {
	training := *r
	training.Weights, training.WeightsSHA256 = "", ""
	if !reflect.DeepEqual(training, Recipe{}) {
		return "weights", fmt.Errorf("weights %q replace pre-training: leave out the training keys (epochs, batch, lr, schedule, …)", r.Weights)
	}
	if r.WeightsSHA256 != "" && !sha256Hex.MatchString(r.WeightsSHA256) {
		return "weights_sha256", fmt.Errorf("%q, want 64 lower-case hex digits", r.WeightsSHA256)
	}
	if w, ok := loaders.FindWeights(r.Weights); ok {
		if r.WeightsSHA256 != "" && r.WeightsSHA256 != w.SHA256 {
			return "weights_sha256", fmt.Errorf("%s is pinned to sha256 %s, not %s", r.Weights, w.SHA256, r.WeightsSHA256)
		}
		r.WeightsSHA256 = w.SHA256
		if w.Arch != spec.Name {
			return "weights", fmt.Errorf("%s holds a %s, not a %s", r.Weights, w.Arch, spec.Name)
		}
		for _, id := range ids {
			if c := idClasses[id]; c != 0 && c != w.Classes {
				return "weights", fmt.Errorf("%s classifies %d classes; in-distribution set %s has %d", r.Weights, w.Classes, id, c)
			}
		}
	} else {
		if !strings.ContainsAny(r.Weights, "/.") {
			return "weights", fmt.Errorf("unknown weights %q (known: %s; or a path to a PyTorch file with weights_sha256)", r.Weights, strings.Join(loaders.WeightsNames(), ", "))
		}
		if r.WeightsSHA256 == "" {
			return "weights_sha256", fmt.Errorf("weights %q is a path: pin its contents with weights_sha256 (sha256sum prints it)", r.Weights)
		}
	}
	if err := nets.CheckTorchArchitecture(spec); err != nil {
		return "weights", err
	}
	return "", nil
}

// Normalization is the network's input normalisation: its architecture's
// (nets.Spec.Normalization: ODIN's CIFAR mean and std for the networks
// trained here and ODIN's DenseNets, ImageNet's for the published
// ResNet-56), applied to every image it sees, and the unit ODIN's ε is
// divided by (Liang et al., ICLR 2018).
func (n Network) Normalization() loaders.Normalization {
	mean, std := n.Spec.Normalization()
	return loaders.Normalization{Mean: mean, Std: std}
}
