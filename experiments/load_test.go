package experiments

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"

	_ "github.com/mcdood/mcdood/baselines"
	_ "github.com/mcdood/mcdood/mcd"
)

const good = `
name = "t"
seeds = [1, 2]
id = ["cifar10"]
networks = ["small"]
ood = ["gaussian", "tinyimagenet-crop"]
methods = ["msp", "odin-fixed", "mcd"]

[network.small]
epochs = 2
batch = 64
lr = 0.1
schedule = "cosine"
momentum = 0.9
weight_decay = 5e-4
augment = true

[method.odin-fixed]
detector = "odin"
temperatures = [1000]
epsilons = [0.0014]

[method.mcd]
epochs = 2
steps_per_epoch = 10
`

func TestParseGoodPlan(t *testing.T) {
	p, err := Parse("good.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Cells) != 1*1*2*1*2*3 {
		t.Fatalf("%d cells", len(p.Cells))
	}
	c := p.Cells[0]
	if c.ID != "cifar10" || c.Network != "small" || c.Seed != 1 || c.Setting != "transductive" || c.OOD != "gaussian" || c.Method != "msp" {
		t.Fatalf("first cell %+v", c)
	}
	if p.File.Validation != 1000 || p.File.SplitSeed != 3 {
		t.Fatalf("defaults not applied: %+v", p.File)
	}
	keys := map[string]bool{}
	for _, c := range p.Cells {
		if keys[c.Key] {
			t.Fatalf("duplicate key %s", c.Key)
		}
		keys[c.Key] = true
	}
	if m := p.Method("odin-fixed"); m.Detector != "odin" || !strings.Contains(m.Canonical(), "1000") {
		t.Fatalf("alias: %+v %s", m, m.Canonical())
	}
	// Keys are stable, and change when a result-changing number changes.
	p2, _ := Parse("good.toml", []byte(good))
	if p2.Cells[5].Key != p.Cells[5].Key {
		t.Fatal("keys differ between two parses")
	}
	p3, err := Parse("good.toml", []byte(strings.Replace(good, "lr = 0.1", "lr = 0.2", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if p3.Cells[0].Key == p.Cells[0].Key || p3.Cells[0].Group == p.Cells[0].Group {
		t.Fatal("changing the recipe kept the cell key or group")
	}
	// A seed group holds the cells that differ only in their seed: cell i
	// of seed 1 and cell i+6 of seed 2.
	groups := map[string]int{}
	for _, c := range p.Cells {
		groups[c.Group]++
	}
	if len(groups) != 6 || p.Cells[0].Group != p.Cells[6].Group || p.Cells[0].Key == p.Cells[6].Key || p.Cells[6].Seed != 2 {
		t.Fatalf("%d groups: %+v, %+v", len(groups), p.Cells[0], p.Cells[6])
	}
	// --seeds lists the cells again; groups stay, keys follow the seed.
	if err := p2.SetSeeds([]uint64{2, 7, 9}); err != nil || len(p2.Cells) != 18 || p2.Cells[0].Key != p.Cells[6].Key || p2.Cells[17].Group != p.Cells[5].Group {
		t.Fatalf("SetSeeds: %v, %d cells", err, len(p2.Cells))
	}
	if err := p2.SetSeeds([]uint64{3, 3}); err == nil {
		t.Error("SetSeeds accepted a seed twice")
	}
	// --ood keeps the cells of those sets, with the full plan's keys.
	p4, _ := Parse("good.toml", []byte(good))
	last := p4.Cells[len(p4.Cells)-1]
	if err := p4.OnlyOOD([]string{last.OOD}); err != nil || len(p4.Cells) == 0 || len(p4.Cells) >= len(p.Cells) {
		t.Fatalf("OnlyOOD: %v, %d of %d cells", err, len(p4.Cells), len(p.Cells))
	}
	for _, c := range p4.Cells {
		if c.OOD != last.OOD {
			t.Fatalf("OnlyOOD(%s) kept %+v", last.OOD, c)
		}
	}
	if p4.Cells[len(p4.Cells)-1].Key != last.Key {
		t.Fatal("OnlyOOD changed a cell's key")
	}
	if err := p4.OnlyOOD([]string{"mnist"}); err == nil || !strings.Contains(err.Error(), `"mnist"`) {
		t.Errorf("OnlyOOD of a set not in the plan: %v", err)
	}
	// --methods likewise.
	if err := p4.OnlyMethods([]string{last.Method}); err != nil || len(p4.Cells) != 2 || p4.Cells[1].Key != last.Key {
		t.Fatalf("OnlyMethods: %v, %d cells", err, len(p4.Cells))
	}
	if err := p4.OnlyMethods([]string{"msp", "msp"}); err == nil {
		t.Error("OnlyMethods accepted a method twice")
	}
	if _, err := p.Network("small").TrainConfig(1); err != nil {
		t.Fatal(err)
	}
	// The model cache is OUT/models unless the plan names one; where the
	// networks are kept changes no key.
	if d := p.File.ModelDir("o"); d != "o/models" {
		t.Errorf("default model dir %q", d)
	}
	p5, err := Parse("good.toml", []byte(`models = "shared/models"`+"\n"+good))
	if err != nil || p5.File.ModelDir("o") != "shared/models" {
		t.Fatalf("models key: %v, %+v", err, p5.File)
	}
	if p5.Cells[0].Key != p.Cells[0].Key || p5.ModelKey("cifar10", "small", 1) != p.ModelKey("cifar10", "small", 1) {
		t.Error("the models folder changed a cell or model key")
	}
}

// TestAirbenchRecipe: airbench's keys decode into the training configuration,
// augment takes a name or the older boolean, and leaving the new keys out
// keeps the model keys of older plans.
func TestAirbenchRecipe(t *testing.T) {
	src := strings.Replace(good, "augment = true", `augment = "flip-translate"
lr_start = 0.2
label_smoothing = 0.2
bias_lr_scale = 64
whiten_bias_epochs = 3
ema = {start = 3, every = 5, decay = 0.95, power = 3}
tta = 2`, 1)
	src = strings.Replace(src, `schedule = "cosine"`, "schedule = \"onecycle\"\nwarmup = 1", 1)
	p, err := Parse("a.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	n := p.Network("small")
	cfg, err := n.TrainConfig(4)
	if err != nil {
		t.Fatal(err)
	}
	want := nets.TrainConfig{Epochs: 2, Batch: 64, Momentum: 0.9, WeightDecay: 5e-4, Seed: 4,
		Schedule:       nets.OneCycle{Peak: 0.1, PeakAt: 1, Epochs: 2, Start: 0.2},
		LabelSmoothing: 0.2, NormShiftLRScale: 64, EarlyOnlyEpochs: 3, EMA: &nets.EMA{Start: 3, Every: 5, Decay: 0.95, Power: 3}}
	if cfg.EMA == nil || *cfg.EMA != *want.EMA {
		t.Errorf("EMA %+v, want %+v", cfg.EMA, want.EMA)
	}
	cfg.EMA, want.EMA = nil, nil
	if fmt.Sprintf("%+v", cfg) != fmt.Sprintf("%+v", want) {
		t.Errorf("config\n %+v\nwant\n %+v", cfg, want)
	}
	if n.Recipe.TTA != 2 || n.TrainingSet(&loaders.Dataset{}, 1).Aug != &loaders.AirbenchAugmentation {
		t.Errorf("recipe %+v", n.Recipe)
	}
	old, _ := Parse("good.toml", []byte(good))
	if a := old.Network("small").Recipe.Augment; a != AugmentCropFlip {
		t.Errorf("augment = true reads as %q", a)
	}
	// The model key of the good plan, as it was before these keys existed.
	if k := old.ModelKey("cifar10", "small", 1); k != "small_cifar10_s1_"+oldRecipeHash {
		t.Errorf("model key %s changed (want hash %s)", k, oldRecipeHash)
	}
}

// oldRecipeHash is the good plan's recipe hash written before the airbench
// keys were added.
const oldRecipeHash = "f503ea5e"

func TestBadPlans(t *testing.T) {
	cases := []struct {
		name, from, to string
		want           string // substring of the error, which must also carry a line
		line           int
	}{
		{"unknown top-level key", `seeds = [1, 2]`, "seeds = [1, 2]\nsedes = [3]", "sedes: unknown key", 4},
		{"typo in recipe", `momentum = 0.9`, "momentun = 0.9", "network.small.momentun: unknown key", 14},
		{"typo in method params", `epsilons = [0.0014]`, "epsilon = [0.0014]", "method.odin-fixed.epsilon: unknown key", 21},
		{"unknown network", `networks = ["small"]`, `networks = ["resnet-50"]`, `networks: network "resnet-50"`, 5},
		{"unknown ood", `"tinyimagenet-crop"]`, `"imagenet"]`, `unknown OOD set "imagenet"`, 6},
		{"unknown method", `"msp", "odin-fixed"`, `"msq", "odin-fixed"`, `unknown detector "msq"`, 7},
		{"bad schedule", `schedule = "cosine"`, `schedule = "linear"`, `network.small.schedule: "linear"`, 13},
		{"bad value type", `batch = 64`, `batch = "64"`, "batch", 11},
		{"negative validation", `seeds = [1, 2]`, "seeds = [1, 2]\nvalidation = -5", "validation: -5 is negative", 4},
		{"bad method value", `epochs = 2
steps_per_epoch`, `epochs = 0
steps_per_epoch`, "method.mcd: mcd: epochs = 0", 23},
		{"negative seed", `seeds = [1, 2]`, `seeds = [1, -1]`, "seeds: -1 is negative", 3},
		{"negative split seed", `seeds = [1, 2]`, "seeds = [1, 2]\nsplit_seed = -3", "split_seed: -3 is out of range", 4},
		{"method value type", `steps_per_epoch = 10`, `steps_per_epoch = 2.5`, "method.mcd.steps_per_epoch: incompatible types", 25},
		{"method alias type", `detector = "odin"`, `detector = 3`, "method.odin-fixed.detector: incompatible types", 19},
		{"syntax", `lr = 0.1`, `lr = = 0.1`, "", 12},
		{"missing recipe", "[network.small]", "[network.other]", `no [network.small] recipe`, 5},
		{"cross without pool", `seeds = [1, 2]`, "seeds = [1, 2]\nsettings = [\"cross\"]", "cross_pool", 0},
		{"bad augment", `augment = true`, `augment = "mixup"`, `augment "mixup": want none, crop-flip or flip-translate`, 16},
		{"bad augment type", `augment = true`, `augment = 3`, `augment: want true, false`, 16},
		{"lr_end on cosine", `augment = true`, "augment = true\nlr_end = 0.1", "lr_start and lr_end apply to schedule onecycle only", 0},
		{"smoothing 1", `augment = true`, "augment = true\nlabel_smoothing = 1", "network.small.label_smoothing: 1, want in [0, 1)", 0},
		{"tta 3", `augment = true`, "augment = true\ntta = 3", "network.small.tta: 3, want 0", 0},
		{"ema every 0", `augment = true`, "augment = true\nema = {start = 1, every = 0, decay = 0.9, power = 3}", "network.small.ema:", 0},
		{"ema typo", `augment = true`, "augment = true\nema = {start = 1, evry = 5, decay = 0.9, power = 3}", "network.small.ema.evry: unknown key", 0},
	}
	for _, c := range cases {
		src := strings.Replace(good, c.from, c.to, 1)
		if src == good {
			t.Fatalf("%s: replacement did not apply", c.name)
		}
		_, err := Parse("bad.toml", []byte(src))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: error %v, want *Error", c.name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "bad.toml") {
			t.Errorf("%s: error %q, want it to contain %q", c.name, err, c.want)
		}
		// One line number, the plan's: not the decoder's again in the message.
		if regexp.MustCompile(`line \d`).MatchString(e.Msg) {
			t.Errorf("%s: %q: a second line number in the message", c.name, err)
		}
		if c.line > 0 && e.Line != c.line {
			t.Errorf("%s: line %d, want %d (%v)", c.name, e.Line, c.line, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("name = \"x\"\n[network.a]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse("fuzz.toml", src)
		if err == nil && len(p.Cells) == 0 {
			t.Fatal("a valid plan with no cells")
		}
	})
}

// The cross setting's pool is resolved from the full ood list: the
// cross_pool's own cells take the next set, narrowing the plan with --ood
// changes neither that nor the keys, and the key names the resolved pool.
func TestCrossPool(t *testing.T) {
	plan := strings.Replace(good, `methods = ["msp", "odin-fixed", "mcd"]`, `methods = ["msp", "odin-fixed", "mcd"]
settings = ["transductive", "cross"]
cross_pool = "tinyimagenet-crop"`, 1)
	p, err := Parse("cross.toml", []byte(plan))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.CrossPool("gaussian"); got != "tinyimagenet-crop" {
		t.Errorf("gaussian's pool %q", got)
	}
	if got := p.CrossPool("tinyimagenet-crop"); got != "gaussian" {
		t.Errorf("the cross pool's own pool %q, want the next set", got)
	}
	key := func(p *Plan, oodSet string) string {
		for _, c := range p.Cells {
			if c.OOD == oodSet && c.Setting == "cross" && c.Method == "mcd" && c.Seed == 1 {
				return c.Key
			}
		}
		t.Fatalf("no cross mcd cell on %s", oodSet)
		return ""
	}
	before := key(p, "tinyimagenet-crop")
	if err := p.OnlyOOD([]string{"tinyimagenet-crop"}); err != nil {
		t.Fatal(err)
	}
	if got := p.CrossPool("tinyimagenet-crop"); got != "gaussian" {
		t.Errorf("after OnlyOOD the pool is %q: the cells would fine-tune on their own test images", got)
	}
	if key(p, "tinyimagenet-crop") != before {
		t.Error("OnlyOOD changed a cross cell's key")
	}
	// Another set after the cross pool is another pool, so another key.
	q, err := Parse("cross.toml", []byte(strings.Replace(plan, `ood = ["gaussian", "tinyimagenet-crop"]`, `ood = ["gaussian", "tinyimagenet-crop", "uniform"]`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if q.CrossPool("tinyimagenet-crop") != "uniform" || key(q, "tinyimagenet-crop") == before || key(q, "gaussian") != key(mustParse(t, plan), "gaussian") {
		t.Errorf("keys do not follow the resolved pool: %s %s", q.CrossPool("tinyimagenet-crop"), key(q, "tinyimagenet-crop"))
	}
}

func mustParse(t *testing.T, plan string) *Plan {
	p, err := Parse("cross.toml", []byte(plan))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A custom set's bad declaration points at the key at fault in its own
// [[custom_ood]] entry, not at the first entry's name.
func TestCustomOODErrorsPointAtTheKey(t *testing.T) {
	src := strings.Replace(good, `"tinyimagenet-crop"]`, `"tinyimagenet-crop", "mine", "theirs"]`, 1) + `
[[custom_ood]]
name = "mine"
path = "mine"
fit = "resize"

[[custom_ood]]
name = "theirs"
fit = "resize"
path = "../../../../etc"
`
	_, err := Parse("bad.toml", []byte(src))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want *Error", err)
	}
	want := strings.Count(src[:strings.Index(src, `path = "../`)], "\n") + 1
	if e.Key != "custom_ood.path" || e.Line != want || !strings.Contains(e.Msg, "entry 2") || !strings.Contains(e.Msg, "leaves the data root") {
		t.Errorf("error %q at line %d, want custom_ood.path of entry 2 at line %d", err, e.Line, want)
	}
}
