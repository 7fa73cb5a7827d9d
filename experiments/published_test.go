package experiments

import (
	"errors"
	"strings"
	"testing"
)

const published = `
name = "p"
id = ["cifar10"]
networks = ["densenet-bc-100"]
ood = ["isun"]
methods = ["msp"]
test_images = 1000
id_validation = "after-test-images"

[network.densenet-bc-100]
weights = "odin-densenet10"
`

// A published network's key is its file's pinned sha256, the same for
// every seed, and its recipe has no training keys.
func TestPublishedNetwork(t *testing.T) {
	p, err := Parse("p.toml", []byte(published))
	if err != nil {
		t.Fatal(err)
	}
	n := p.Network("densenet-bc-100")
	if !n.Recipe.Published() || n.Recipe.WeightsSHA256 != "b5dcb42b3bc725deb4aaeb574255ead1380ecbea3e3720d8b9e17181a82f353d" {
		t.Fatalf("recipe %+v: want the pinned sha256 of odin-densenet10", n.Recipe)
	}
	k1, k2 := p.ModelKey("cifar10", n.Name, 1), p.ModelKey("cifar10", n.Name, 2)
	if k1 != k2 || !strings.Contains(k1, "published_b5dcb42b3bc7") {
		t.Errorf("model keys %s, %s: want one key naming the file's sha256", k1, k2)
	}
	if mean, std := n.Normalization().Mean, n.Normalization().Std; mean[0] != 125.3/255 || std[2] != 66.7/255 {
		t.Errorf("normalisation %v %v, want ODIN's CIFAR mean and std", mean, std)
	}
	// Where the ID validation images come from changes the cells' keys.
	after := strings.Replace(published, "test_images = 1000", "test_images = 1000\nvalidation = 500", 1)
	split := strings.Replace(after, `id_validation = "after-test-images"`, `id_validation = "split"`, 1)
	a, err := Parse("a.toml", []byte(after))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("s.toml", []byte(split))
	if err != nil {
		t.Fatal(err)
	}
	if a.Cells[0].Key == s.Cells[0].Key {
		t.Error("the ID validation source does not change the cell key")
	}
	// A path needs its checksum; a pinned name refuses another.
	sum := strings.Repeat("ab", 32)
	for _, c := range []struct{ from, to, want string }{
		{`weights = "odin-densenet10"`, `weights = "odin-densenet1"`, `network.densenet-bc-100.weights: unknown weights "odin-densenet1"`},
		{`weights = "odin-densenet10"`, `weights = "nets/mine.pth"`, `weights_sha256: weights "nets/mine.pth" is a path: pin its contents`},
		{`weights = "odin-densenet10"`, "weights = \"odin-densenet10\"\nweights_sha256 = \"" + sum + "\"", "is pinned to sha256 b5dcb42b"},
		{`weights = "odin-densenet10"`, "weights = \"odin-densenet10\"\nweights_sha256 = \"ABC\"", `weights_sha256: "ABC", want 64`},
		{`weights = "odin-densenet10"`, "weights = \"odin-densenet10\"\nepochs = 3", "replace pre-training: leave out the training keys"},
		{`networks = ["densenet-bc-100"]`, `networks = ["wrn-28-10"]`, "network.wrn-28-10.weights"},
		{`id_validation = "after-test-images"`, `id_validation = "jpeg"`, `id_validation: "jpeg", want "split" or "after-test-images"`},
		{"test_images = 1000", "", `id_validation: "after-test-images" needs test_images`},
		{`weights = "odin-densenet10"`, `weights = "odin-densenet100"`, "odin-densenet100 classifies 100 classes; in-distribution set cifar10 has 10"},
		{`weights = "odin-densenet10"`, `weights = "resnet56-cifar10"`, "resnet56-cifar10 holds a resnet-cifar-56, not a densenet-bc-100"},
	} {
		src := strings.Replace(published, c.from, c.to, 1)
		if c.from == `networks = ["densenet-bc-100"]` {
			src = strings.Replace(src, "[network.densenet-bc-100]", "[network.wrn-28-10]", 1)
		}
		_, err := Parse("bad.toml", []byte(src))
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q → %q: error %v, want one containing %q", c.from, c.to, err, c.want)
		}
	}
}

// Two methods of one detector get their own configurations: decoding the
// second must not write into the first's lists, nor into the defaults
// (odin-paper once came out with the tuned odin's first T and ε).
func TestAliasesDoNotShareDefaults(t *testing.T) {
	src := strings.Replace(good, `methods = ["msp", "odin-fixed", "mcd"]`, `methods = ["msp", "odin-fixed", "odin", "mcd"]`, 1) +
		"\n[method.odin]\ntemperatures = [1, 10]\nepsilons = [0, 0.001]\n"
	p, err := Parse("two.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"odin-fixed": `{"detector":"odin","config":{"Heads":"head1","Temperatures":[1000],"Epsilons":[0.0014]}}`,
		"odin":       `{"detector":"odin","config":{"Heads":"head1","Temperatures":[1,10],"Epsilons":[0,0.001]}}`,
	}
	for _, m := range p.Methods {
		if w, ok := want[m.Name]; ok && m.Canonical() != w {
			t.Errorf("%s: %s, want %s", m.Name, m.Canonical(), w)
		}
	}
	again, err := Parse("good.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c := again.Method("odin-fixed").Canonical(); c != want["odin-fixed"] {
		t.Errorf("after another plan: %s", c)
	}
}

// A method table's ood key limits the method to those sets, without
// changing the keys of its cells.
func TestMethodOnlyOnSomeSets(t *testing.T) {
	all, err := Parse("all.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(good, "[method.mcd]\n", "[method.mcd]\nood = [\"tinyimagenet-crop\"]\n", 1)
	some, err := Parse("some.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, c := range all.Cells {
		keys[c.Key] = true
	}
	mcd := 0
	for _, c := range some.Cells {
		if c.Method == "mcd" {
			mcd++
			if c.OOD != "tinyimagenet-crop" {
				t.Errorf("mcd cell on %s", c.OOD)
			}
		}
		if !keys[c.Key] {
			t.Errorf("cell %s: key changed", c.Key)
		}
	}
	if mcd != 2 || len(some.Cells) != len(all.Cells)-2 { // two seeds, one set fewer
		t.Errorf("%d mcd cells of %d, want 2 of %d", mcd, len(some.Cells), len(all.Cells)-2)
	}
	for _, c := range []struct{ to, want string }{
		{"ood = [\"isun\"]", `method.mcd.ood: "isun" is not in the plan's ood list`},
		{"ood = []", "method.mcd.ood: empty"},
		{"ood = [\"gaussian\", \"gaussian\"]", `"gaussian" is listed twice`},
	} {
		_, err := Parse("bad.toml", []byte(strings.Replace(good, "[method.mcd]\n", "[method.mcd]\n"+c.to+"\n", 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.to, err, c.want)
		}
	}
}
