// Command mcdood regenerates the tables of Yu & Aizawa, "Unsupervised
// Out-of-Distribution Detection by Maximum Classifier Discrepancy" (ICCV 2019),
// beside the max-softmax baseline (Hendrycks & Gimpel, ICLR 2017) and ODIN
// (Liang et al., ICLR 2018).
//
// Usage:
//
//	mcdood <command> [flags] [arguments]
//
// Run "mcdood help" for the list of commands and "mcdood <command> -h" for
// the flags of one. This is the only package that calls os.Exit.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/mcdood/mcdood/nets"
)

// command is one subcommand. Each lives in its own file and registers itself
// from init, so adding one touches no other file.
type command struct {
	name    string
	order   int    // position in the help listing
	summary string // one line for the help listing
	usage   string // argument synopsis after "mcdood <name>"
	help    string // optional paragraphs printed by -h after the summary
	// flags declares the command's flags on fs and returns the function that
	// runs it with the positional arguments left after parsing.
	flags func(fs *flag.FlagSet) runFunc
}

type runFunc func(ctx context.Context, e *env, args []string) error

// env is what a command may touch of the outside world; tests swap it.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("mcdood: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageError marks a bad command line: it exits with status 2 after the usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// noArgs is a command that takes no positional arguments.
func noArgs(run func(ctx context.Context, e *env) error) runFunc {
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		return run(ctx, e)
	}
}

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(nets.GCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and maps its error to an exit status:
// 0 success, 1 failure, 2 bad usage.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		printHelp(e.stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return runHelp(e, args[1:])
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "mcdood: unknown command %q\n\n", args[0])
		printHelp(e.stderr)
		return 2
	}
	if err := nets.EnvErr(); err != nil {
		fmt.Fprintf(e.stderr, "mcdood: %v\n", err)
		return 2
	}
	fs := newFlagSet(c, e)
	runner := c.flags(fs)
	// What the flag package prints goes to standard output for -h (as
	// "mcdood help CMD" does), to standard error for a bad flag.
	var parsed bytes.Buffer
	fs.SetOutput(&parsed)
	rest, err := parseInterleaved(fs, args[1:])
	fs.SetOutput(e.stderr)
	if errors.Is(err, flag.ErrHelp) {
		e.stdout.Write(parsed.Bytes())
		return 0
	}
	if err != nil {
		e.stderr.Write(parsed.Bytes()) // the error and the usage
		return 2
	}
	err = runner(ctx, e, rest)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "mcdood %s: %s\n", c.name, ue.msg)
		fs.Usage()
		return 2
	default:
		fmt.Fprintf(e.stderr, "mcdood %s: %v\n", c.name, err)
		return 1
	}
}

// runHelp prints the command list, or with an argument the usage of that
// command, to standard output.
func runHelp(e *env, args []string) int {
	if len(args) == 0 {
		printHelp(e.stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "mcdood help: unknown command %q\n", args[0])
		return 2
	}
	fs := newFlagSet(c, e)
	c.flags(fs)
	fs.SetOutput(e.stdout)
	fs.Usage()
	return 0
}

// parseInterleaved parses flags that may appear before, between or after the
// positional arguments ("data fetch cifar10 --mirror DIR"); "--" ends flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		// fs.Parse stopped at a positional argument (or a lone "-"); keep it
		// and parse what follows.
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func newFlagSet(c *command, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("mcdood "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: mcdood %s %s\n\n%s\n", c.name, c.usage, c.summary)
		if c.help != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "mcdood reproduces out-of-distribution detection results: MCD (Yu & Aizawa, ICCV 2019),")
	fmt.Fprintln(w, "max-softmax (Hendrycks & Gimpel, ICLR 2017) and ODIN (Liang et al., ICLR 2018).")
	fmt.Fprintln(w, "\nusage: mcdood <command> [flags] [arguments]\n\ncommands:")
	list := make([]*command, 0, len(commands))
	for _, c := range commands {
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].order != list[j].order {
			return list[i].order < list[j].order
		}
		return list[i].name < list[j].name
	})
	for _, c := range list {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"mcdood help <command>\" or \"mcdood <command> -h\" for its flags.")
}
