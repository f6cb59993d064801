// Command wirewatch polls news feeds, keeps the items that match a
// watchlist, stores each once in PostgreSQL and lists them for review.
//
// See `wirewatch help` and README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stopProfile := startCPUProfile(os.Getenv, os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, stopSignals: stop})
	stop()
	stopProfile()
	os.Exit(exitCode(err, os.Stderr))
}

// env is the process's outside world, passed in so tests can run commands
// in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// stopSignals restores default signal handling, so that a second Ctrl-C
	// during a graceful stop ends the process at once.
	stopSignals func()
}

// Exit codes: 0 success, 1 failure, 2 bad usage or bad configuration.
const (
	exitFailure = 1
	exitUsage   = 2
)

// usageError is a mistake on the command line or in the configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "wirewatch:", err)
		return exitUsage
	}
	fmt.Fprintln(stderr, "wirewatch:", err)
	return exitFailure
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"run", "run the daemon: poll every feed on its schedule until stopped", cmdRun},
		{"poll", "poll every feed once now, then exit", cmdPoll},
		{"migrate", "apply the database schema migrations", cmdMigrate},
		{"matches", "list stored matches, newest first", cmdMatches},
		{"match", "try the watchlist on items read from stdin (no database)", cmdMatch},
		{"rematch", "apply the current watchlist to the items of a past window", cmdRematch},
		{"reference", "add, list or remove the reference articles matches are ranked against", cmdReference},
		{"feeds", "the feed list: discover a page's feeds, export the list as OPML", cmdFeeds},
		{"check-config", "validate the configuration and summarize it", cmdCheckConfig},
		{"version", "print version, commit and Go version", cmdVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "wirewatch polls news feeds, keeps the items that match a watchlist and stores them in PostgreSQL.\n\n")
	fmt.Fprintf(w, "Usage: wirewatch [--config PATH] COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'wirewatch COMMAND --help' for a command's flags.\n")
	fmt.Fprintf(w, "The configuration is read from --config, else $WIREWATCH_CONFIG, else %s.\n", defaultConfigPath)
}

// run is the whole program: it parses args, runs one command and returns
// its error; main turns that into the exit code.
func run(ctx context.Context, args []string, e *env) error {
	if e.stopSignals == nil {
		e.stopSignals = func() {}
	}
	// Flags before the command apply to every command: wirewatch --config x run.
	global := flag.NewFlagSet("wirewatch", flag.ContinueOnError)
	global.SetOutput(e.stderr)
	global.Usage = func() {}
	configPath := global.String("config", "", "configuration file")
	showVersion := global.Bool("version", false, "print the version and exit")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(e.stdout)
			return err
		}
		usage(e.stderr)
		return usageError{err}
	}
	if *showVersion {
		return cmdVersion(ctx, e, nil)
	}
	rest := global.Args()
	if len(rest) == 0 {
		usage(e.stderr)
		return usagef("no command given")
	}
	name, rest := rest[0], rest[1:]
	if *configPath != "" {
		rest = append([]string{"--config", *configPath}, rest...)
	}
	if name == "help" {
		usage(e.stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, rest)
		}
	}
	usage(e.stderr)
	return usagef("unknown command %q", name)
}

// newFlags returns a flag set for a command, with --help handled the same way
// everywhere.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: wirewatch %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors and refusing
// stray arguments unless allowed.
func parseFlags(fs *flag.FlagSet, args []string, allowArgs bool) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if !allowArgs && fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
