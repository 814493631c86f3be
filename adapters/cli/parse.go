package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// UsageError is a command-line mistake (exit 2). Cmd names the subcommand
// whose help it points to; "" is the program's.
type UsageError struct{ Cmd, Msg string }

func (e UsageError) Error() string { return e.Msg }

// Write prints the mistake and where to find the usage.
func (e UsageError) Write(w io.Writer) {
	if e.Cmd == "" {
		fmt.Fprintf(w, "%s: %s\n\n", Program, e.Msg)
		Help(w, Program, nil)
		return
	}
	fmt.Fprintf(w, "%s %s: %s\nRun '%[1]s %[2]s --help' for its usage.\n", Program, e.Cmd, e.Msg)
}

// Flags returns the flag set of a subcommand: it prints nothing itself.
func Flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// Parse parses flags given before or after the arguments and returns at
// most max arguments; more is a UsageError, as is a wrong flag. -h and
// --help print the subcommand's help on stdout and return flag.ErrHelp
// (exit 0).
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer, max int) ([]string, error) {
	var rest []string
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			Help(stdout, fs.Name(), fs)
			return nil, err
		case err != nil:
			return nil, UsageError{fs.Name(), err.Error()}
		case fs.NArg() == 0:
			return rest, nil
		case len(rest) == max:
			return nil, UsageError{fs.Name(), fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
		}
		rest, args = append(rest, fs.Arg(0)), fs.Args()[1:]
	}
}

// ConfigFlag adds -c/--config to fs and parses args: the configuration
// path is -c's, or one argument in its place (`check FILE` is `check -c
// FILE`); both, unless they agree, are a UsageError.
func ConfigFlag(fs *flag.FlagSet, args []string, stdout io.Writer, def string) (string, error) {
	path := fs.String("c", def, "read the configuration from `FILE` (an argument in its place does the same)")
	fs.StringVar(path, "config", def, "")
	rest, err := Parse(fs, args, stdout, 1)
	switch {
	case err != nil:
		return "", err
	case len(rest) == 0:
		return *path, nil
	case explicit(fs, "c") && *path != rest[0]:
		return "", UsageError{fs.Name(), fmt.Sprintf("two configuration files: -c %s and %s", *path, rest[0])}
	}
	return rest[0], nil
}

// explicit reports whether the flag name, or an alias of it, was given.
func explicit(fs *flag.FlagSet, name string) bool {
	v, set := fs.Lookup(name).Value, false
	fs.Visit(func(f *flag.Flag) { set = set || f.Value == v })
	return set
}
