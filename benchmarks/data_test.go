package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/loaders"
)

// customPlan is a plan whose one OOD set besides gaussian is the custom set
// "mine" at path; it trains nothing in these tests (only OpenData runs).
func customPlan(t *testing.T, path string) *experiments.Plan {
	t.Helper()
	src := `
name = "custom"
id = ["cifar10"]
networks = ["small"]
ood = ["gaussian", "mine"]
methods = ["msp"]
validation = 10
train_images = 64
test_images = 20
ood_images = 20
noise_images = 20

[network.small]
epochs = 1
batch = 32
lr = 0.05
schedule = "constant"
momentum = 0.9

[[custom_ood]]
name = "mine"
path = "` + path + `"
fit = "resize"
`
	plan, err := experiments.Parse("custom.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func findSet(d *Data, name string) *DataSet {
	for _, s := range d.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// A custom set whose path is mistyped, a link loop, a named pipe or a
// folder without images is broken — the run stops before any training —
// and its problem names the path without fetch advice.
func TestCustomSetPathBroken(t *testing.T) {
	root := t.TempDir()
	os.Symlink("loop-b", filepath.Join(root, "loop-a"))
	os.Symlink("loop-a", filepath.Join(root, "loop-b"))
	os.Mkdir(filepath.Join(root, "empty"), 0o755)
	if err := makeFIFO(filepath.Join(root, "pipe")); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, c := range []struct{ path, want string }{
		{"mistyped", filepath.Join(root, "mistyped") + ": no such folder or file"},
		{"loop-a", filepath.Join(root, "loop-a") + ": a loop of symbolic links"},
		{"pipe", filepath.Join(root, "pipe") + ": a named pipe (FIFO), not a regular file or a folder"},
		{"empty", filepath.Join(root, "empty") + ": no images"},
	} {
		plan, out := customPlan(t, c.path), t.TempDir()
		done := make(chan struct{})
		var d *Data
		var err error
		go func() {
			d, err = OpenData(context.Background(), plan, Options{DataRoot: root, Out: out})
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: the data pass is still blocked after 2 s", c.path)
		}
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		s := findSet(d, "mine")
		if s == nil || s.Status != loaders.Broken || !strings.Contains(s.Problem, c.want) || strings.Contains(s.Problem, "fetch") {
			t.Errorf("%s: %+v\nwant broken, naming %q, without fetch advice", c.path, s, c.want)
			continue
		}
		if b := d.Broken(); len(b) != 1 || b[0] != s {
			t.Errorf("%s: Broken() = %v", c.path, b)
		}
	}
}

// A custom set given as a symbolic link to a folder is read; a link inside
// it that leads nowhere is printed as a warning under the data table.
func TestCustomSetSymlinkWarnings(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(t.TempDir(), "real")
	os.MkdirAll(filepath.Join(real, "s"), 0o755)
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 40, 40))); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		os.WriteFile(filepath.Join(real, "s", fmt.Sprintf("%02d.png", i)), img.Bytes(), 0o644)
	}
	os.Symlink("nowhere.png", filepath.Join(real, "s", "gone.png"))
	if err := os.Symlink(real, filepath.Join(root, "mine")); err != nil {
		t.Skip(err)
	}
	d, err := OpenData(context.Background(), customPlan(t, "mine"), Options{DataRoot: root, Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := findSet(d, "mine")
	if s == nil || s.Status != loaders.Ready || s.Test != 20 || len(s.Warnings) != 1 {
		t.Fatalf("%+v", s)
	}
	var out bytes.Buffer
	if err := d.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	want := "mine: warning: 1 image link skipped: the target is missing or a link loop (e.g. " + filepath.Join(root, "mine", "s", "gone.png") + ")\n"
	if !strings.Contains(out.String(), "\n"+want) {
		t.Errorf("table:\n%s\nwant the line %q", out.String(), want)
	}
}
