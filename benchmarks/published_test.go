package benchmarks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/internal/testenv"
	"github.com/mcdood/mcdood/loaders"
)

// published scores ODIN's DenseNet-BC-100 on the first 40 CIFAR-10 test
// images, validating on 20 drawn from the images after them.
const published = `
name = "pub"
id = ["cifar10"]
networks = ["densenet-bc-100"]
ood = ["gaussian"]
methods = ["msp"]
validation = 20
train_images = 200
test_images = 40
id_validation = "after-test-images"
noise_images = 60

[network.densenet-bc-100]
weights = "odin-densenet10"
`

// publishedRoot is a data root with the mirror's CIFAR-10 and, when
// weights, its ODIN DenseNet file.
func publishedRoot(t *testing.T, weights bool) string {
	data := testenv.DataMirror(t)
	root := cifarRoot(t, data)
	if weights {
		if err := os.Symlink(filepath.Join(data, "pretrained"), filepath.Join(root, loaders.PretrainedDir)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// A published network is loaded, not trained, scores every capped test
// image, validates on others, and its records carry the file's sha256.
func TestRunPublishedNetwork(t *testing.T) {
	root := publishedRoot(t, true)
	plan, err := experiments.Parse("pub.toml", []byte(published))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	data, err := OpenData(context.Background(), plan, Options{DataRoot: root, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	id := data.find(loaders.RoleID, "cifar10", 0)
	_, full, err := loaders.CIFAR10(root)
	if err != nil {
		t.Fatal(err)
	}
	if id.test.Len() != 40 || id.valPool.Len() != full.Len()-40 || !bytes.Equal(id.valPool.Image(0), full.Image(40)) {
		t.Fatalf("scored %d images, validation pool %d starting at which image?", id.test.Len(), id.valPool.Len())
	}
	sum, err := Run(context.Background(), plan, Options{DataRoot: root, Out: out, Data: data})
	if err != nil || len(sum.Failed) > 0 || len(sum.Records) != 1 {
		t.Fatalf("run: %v, failed %v, %d records", err, sum.Failed, len(sum.Records))
	}
	r := sum.Records[0]
	if r.Config["weights_sha256"] != "b5dcb42b3bc725deb4aaeb574255ead1380ecbea3e3720d8b9e17181a82f353d" || r.Config["id_validation"] != "after-test-images" {
		t.Errorf("record config %v", r.Config)
	}
	if r.Counts.IDTest != 40 || r.Counts.IDVal != 20 || r.Accuracy < 0.85 {
		t.Errorf("counts %+v, accuracy %v (ODIN's DenseNet: 94.8%% on images 0–999)", r.Counts, r.Accuracy)
	}
	if models, _ := filepath.Glob(filepath.Join(out, "models", "*")); len(models) != 0 {
		t.Errorf("a published network was cached as trained: %v", models)
	}
}

// A missing or altered weights file stops its cells before any scoring,
// saying how to get it or what is wrong.
func TestRunPublishedWeightsProblems(t *testing.T) {
	// Missing: the fetch command.
	plan, err := experiments.Parse("pub.toml", []byte(published))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), plan, Options{DataRoot: publishedRoot(t, false), Out: t.TempDir()})
	if err != nil || sum.Done != 0 || len(sum.Missing) != 1 || !strings.Contains(sum.Missing[0].Fetch, "mcdood data fetch") ||
		!strings.Contains(sum.Missing[0].Fetch, "odin-densenet10") {
		t.Fatalf("missing weights: %v, done %d, missing %+v", err, sum.Done, sum.Missing)
	}
	// A path whose contents are not the pinned ones: broken, nothing runs.
	root := publishedRoot(t, true)
	src := strings.Replace(published, `weights = "odin-densenet10"`,
		`weights = "pretrained/densenet10.pth.tar.gz"`+"\nweights_sha256 = \""+strings.Repeat("0", 64)+"\"", 1)
	plan, err = experiments.Parse("pub.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sum, err = Run(context.Background(), plan, Options{DataRoot: root, Out: t.TempDir()})
	var broken *BrokenError
	if !errors.As(err, &broken) || sum.Done != 0 || !strings.Contains(err.Error(), "densenet10.pth.tar.gz has sha256 b5dcb42b") {
		t.Fatalf("altered weights: %v, done %d", err, sum.Done)
	}
}
