package nets

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A Spec's JSON is what the model keys hash (experiments' Plan.ModelKey)
// and its %+v what Model.Digest hashes: both are pinned to the bytes of the
// code before the architecture registry, so every cached network and
// fine-tuning checkpoint made before it stays valid.
func TestSpecKeysStay(t *testing.T) {
	for _, c := range []struct{ name, json, digest string }{
		{"small", `{"Name":"small","Family":"small","Depth":0,"Growth":0,"Width":0,"Dropout":0}`,
			`{Name:small Family:small Depth:0 Growth:0 Width:0 Widths:[0 0 0] Dropout:0}`},
		{"densenet-bc-100", `{"Name":"densenet-bc-100","Family":"densenet-bc","Depth":100,"Growth":12,"Width":0,"Dropout":0}`,
			`{Name:densenet-bc-100 Family:densenet-bc Depth:100 Growth:12 Width:0 Widths:[0 0 0] Dropout:0}`},
		{"densenet-bc-40-12", `{"Name":"densenet-bc-40-12","Family":"densenet-bc","Depth":40,"Growth":12,"Width":0,"Dropout":0}`,
			`{Name:densenet-bc-40-12 Family:densenet-bc Depth:40 Growth:12 Width:0 Widths:[0 0 0] Dropout:0}`},
		{"wrn-28-10", `{"Name":"wrn-28-10","Family":"wrn","Depth":28,"Growth":0,"Width":10,"Dropout":0}`,
			`{Name:wrn-28-10 Family:wrn Depth:28 Growth:0 Width:10 Widths:[0 0 0] Dropout:0}`},
		{"mlp-8", `{"Name":"mlp-8","Family":"mlp","Depth":0,"Growth":0,"Width":8,"Dropout":0}`,
			`{Name:mlp-8 Family:mlp Depth:0 Growth:0 Width:8 Widths:[0 0 0] Dropout:0}`},
		{"resnet9-16", `{"Name":"resnet9-16","Family":"resnet9","Depth":0,"Growth":0,"Width":16,"Dropout":0}`,
			`{Name:resnet9-16 Family:resnet9 Depth:0 Growth:0 Width:16 Widths:[0 0 0] Dropout:0}`},
		{"airbench-64-256-256", `{"Name":"airbench-64-256-256","Family":"airbench","Depth":0,"Growth":0,"Width":0,"Widths":[64,256,256],"Dropout":0}`,
			`{Name:airbench-64-256-256 Family:airbench Depth:0 Growth:0 Width:0 Widths:[64 256 256] Dropout:0}`},
		{"resnet-cifar-56", `{"Name":"resnet-cifar-56","Family":"resnet-cifar","Depth":56,"Growth":0,"Width":0,"Dropout":0}`,
			`{Name:resnet-cifar-56 Family:resnet-cifar Depth:56 Growth:0 Width:0 Widths:[0 0 0] Dropout:0}`},
	} {
		s, err := ParseSpec(c.name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.json {
			t.Errorf("%s: JSON %s, want %s", c.name, b, c.json)
		}
		if got := fmt.Sprintf("%+v", s); got != c.digest {
			t.Errorf("%s: %%+v %s, want %s", c.name, got, c.digest)
		}
	}
}

// A bumped definition version changes the JSON (and so the model key);
// version 1 leaves it out.
func TestSpecVersionInKey(t *testing.T) {
	f := findFamily("wrn")
	defer func(v int) { f.version = v }(f.version)
	s, _ := ParseSpec("wrn-16-4")
	f.version = 1
	one, _ := json.Marshal(s)
	f.version = 2
	two, _ := json.Marshal(s)
	if strings.Contains(string(one), "Version") || !strings.HasSuffix(string(two), `,"Version":2}`) {
		t.Errorf("version 1: %s; version 2: %s", one, two)
	}
}

func TestParseSpecErrors(t *testing.T) {
	for name, want := range map[string]string{
		"wrn-28":            "want wrn-DEPTH-WIDTH",
		"wrn-27-10":         "WRN depth must be 6n+4",
		"densenet-bc-1-2-3": "want densenet-bc-DEPTH or densenet-bc-DEPTH-GROWTH",
		"resnet-cifar-10":   "CIFAR ResNet depth must be 6n+2",
		"airbench-64":       "want airbench-WIDTH1-WIDTH2-WIDTH3",
		"mlp-0":             "want mlp-WIDTH",
		"small-3":           "unknown architecture",
		"vgg-16":            "unknown architecture (known: airbench-A-B-C, densenet-bc-L[-k], mlp-H, resnet-cifar-D, resnet9-C, small, wrn-D-W)",
	} {
		_, err := ParseSpec(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSpec(%q) = %v, want an error containing %q", name, err, want)
		}
	}
	for _, a := range Architectures() {
		if a.Form == "" || a.Doc == "" {
			t.Errorf("architecture %+v without a form or a doc", a)
		}
	}
	for _, s := range []Spec{{Family: "airbench"}, {Family: "wrn"}} {
		scale, bias := s.headScale()
		if want := s.Family != "airbench"; bias != want || (scale == 1) != want {
			t.Errorf("%s: head scale %v, bias %v", s.Family, scale, bias)
		}
	}
}
