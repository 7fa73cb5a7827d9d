package main

import (
	"bytes"
	"context"
	"flag"
	"reflect"
	"strings"
	"testing"
)

// runCLI runs the CLI in-process and returns its exit status and output.
func runCLI(t *testing.T, getenv map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string { return getenv[k] }}
	code = run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func TestHelpListsEveryCommand(t *testing.T) {
	code, out, _ := runCLI(t, nil, "help")
	if code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for name := range commands {
		if !strings.Contains(out, "  "+name+" ") {
			t.Errorf("help does not list %q:\n%s", name, out)
		}
	}
}

func TestUnknownCommandExitsTwo(t *testing.T) {
	code, _, errOut := runCLI(t, nil, "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

// CMD -h and help CMD write the same help to standard output and exit 0;
// a bad flag writes the error and the usage to standard error, exit 2.
func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands {
		code, out, errOut := runCLI(t, nil, name, "-h")
		if code != 0 || !strings.HasPrefix(out, "usage: mcdood "+name) || errOut != "" {
			t.Errorf("%s -h: exit %d, stdout %q, stderr %q", name, code, out, errOut)
		}
		code, help, _ := runCLI(t, nil, "help", name)
		if code != 0 || help != out {
			t.Errorf("help %s: exit %d, output differs from %s -h:\n%s\nwant\n%s", name, code, name, help, out)
		}
		code, out, errOut = runCLI(t, nil, name, "--no-such-flag")
		if code != 2 || out != "" || !strings.Contains(errOut, "flag provided but not defined: -no-such-flag") ||
			!strings.Contains(errOut, "usage: mcdood "+name) {
			t.Errorf("%s --no-such-flag: exit %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	mirror := fs.String("mirror", "", "")
	v := fs.Bool("v", false, "")
	rest, err := parseInterleaved(fs, []string{"fetch", "cifar10", "--mirror", "/m", "tinyimagenet", "-v", "--", "-x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"fetch", "cifar10", "tinyimagenet", "-x"}; !reflect.DeepEqual(rest, want) {
		t.Errorf("positional %q, want %q", rest, want)
	}
	if *mirror != "/m" || !*v {
		t.Errorf("flags mirror=%q v=%v", *mirror, *v)
	}
}
