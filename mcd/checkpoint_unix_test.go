//go:build unix

package mcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
)

// The child process of TestResumeAfterSignal: with MCD_TEST_KILL set to
// "case/signal/epochs/step/path", it fine-tunes the named resume case with
// its checkpoint at path and sends itself the signal right after the
// checkpoint of that many epochs and steps is written. SIGTERM is caught as
// the command catches it (signal.NotifyContext), which cancels the
// fine-tuning; SIGKILL cannot be.
func TestResumeChild(t *testing.T) {
	spec := os.Getenv("MCD_TEST_KILL")
	if spec == "" {
		t.Skip("the child of TestResumeAfterSignal")
	}
	f := strings.SplitN(spec, "/", 5)
	c := resumeCases[slices.IndexFunc(resumeCases, func(c resumeCase) bool { return c.name == f[0] })]
	sig := map[string]syscall.Signal{"SIGKILL": syscall.SIGKILL, "SIGTERM": syscall.SIGTERM}[f[1]]
	epochs, _ := strconv.Atoi(f[2])
	step, _ := strconv.Atoi(f[3])
	env, data, cfg := c.setup(t, f[4])
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	env.Log = slog.New(testenv.LogHook(func(msg string, attrs map[string]slog.Value) {
		if atCheckpoint(msg, attrs, epochs, step) {
			syscall.Kill(os.Getpid(), sig)
		}
	}))
	_, err := fineTuneOutcome(ctx, t, env, data, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("fine-tuning ended with %v, not stopped by %s", err, f[1])
	}
	fmt.Println("CHILD CANCELLED")
}

// A fine-tuning killed by SIGKILL, or stopped by SIGTERM, right after a
// checkpoint (an epoch's end; a step within an epoch with checkpoint_every)
// and run again resumes there, with an uninterrupted run's result to the
// last bit.
func TestResumeAfterSignal(t *testing.T) {
	for _, k := range []struct {
		sig  string
		c    resumeCase
		want func(*exec.ExitError, []byte) bool
	}{
		{"SIGKILL", resumeCases[1], func(e *exec.ExitError, _ []byte) bool {
			ws, ok := e.Sys().(syscall.WaitStatus)
			return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
		}},
		{"SIGKILL", resumeCases[2], func(e *exec.ExitError, _ []byte) bool {
			ws, ok := e.Sys().(syscall.WaitStatus)
			return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
		}},
		{"SIGTERM", resumeCases[0], func(e *exec.ExitError, out []byte) bool {
			return e == nil && strings.Contains(string(out), "CHILD CANCELLED")
		}},
	} {
		t.Run(k.sig+" "+k.c.name, func(t *testing.T) {
			c := k.c
			path := filepath.Join(t.TempDir(), "cell.ckpt")
			cmd := exec.Command(os.Args[0], "-test.run=^TestResumeChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), fmt.Sprintf("MCD_TEST_KILL=%s/%s/%d/%d/%s", c.name, k.sig, c.epochs, c.step, path))
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			if !k.want(exit, out) {
				t.Fatalf("child: %v, want it ended by %s; output:\n%s", err, k.sig, out)
			}
			got, ev := c.resume(t, path)
			if want := []string{fmt.Sprintf("%d/%d", c.epochs, c.step)}; !slices.Equal(ev.resumed, want) || len(ev.warnings) > 0 {
				t.Fatalf("resumed at %v (warnings %q), want %v", ev.resumed, ev.warnings, want)
			}
			c.reference(t).same(t, got)
		})
	}
}
