package buildinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
)

func TestRevision(t *testing.T) {
	for _, c := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, Unknown},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}, "0123456789ab"},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "0123456789abcdef0123"}}, "0123456789ab+dirty"},
	} {
		if got := revision(c.settings); got != c.want {
			t.Errorf("revision(%v) = %q, want %q", c.settings, got, c.want)
		}
	}
}

// The binary reports the revision it was built from, run from another git
// repository and from a folder outside any: not what git says where it runs.
func TestBinaryReportsItsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root := testenv.RepoRoot(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "mcdood")
	// -buildvcs=auto overrides a GOFLAGS=-buildvcs=false, as the Makefile does.
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, "./cmd/mcdood")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	other := t.TempDir()
	repo := filepath.Join(other, "repo")
	outside := filepath.Join(other, "outside")
	for _, d := range []string{repo, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git := exec.Command("sh", "-c", "git init -q && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m x")
	git.Dir = repo
	if out, err := git.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	// The tree may hold changes: the revision is HEAD's, with or without +dirty.
	want := strings.TrimSpace(string(head))
	for _, dir := range []string{repo, outside} {
		cmd := exec.Command(bin, "version")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+other)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("version in %s: %v", dir, err)
		}
		first := strings.SplitN(string(out), "\n", 2)[0]
		if !strings.HasPrefix(first, "mcdood "+want) {
			t.Errorf("from %s: %q, want the build's revision %s", dir, first, want)
		}
	}
}
