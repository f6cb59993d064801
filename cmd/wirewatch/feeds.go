package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// feedsCommands are the subcommands of `wirewatch feeds`, about the feed list
// itself rather than what the feeds carry.
func feedsCommands() []command {
	return []command{
		{"list", "every configured feed's health, one line each (the default)", cmdFeedsList},
		{"discover", "print the feeds a web page offers", cmdFeedsDiscover},
		{"export", "write the configured feeds as OPML", cmdFeedsExport},
	}
}

func feedsUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: wirewatch feeds SUBCOMMAND [flags]\n\nSubcommands:\n")
	for _, c := range feedsCommands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'wirewatch feeds SUBCOMMAND --help' for a subcommand's flags.\n")
}

// cmdFeeds dispatches to a subcommand, the way run dispatches to commands.
func cmdFeeds(ctx context.Context, e *env, args []string) error {
	if listArgs(args) {
		return cmdFeedsList(ctx, e, args)
	}
	fs := flag.NewFlagSet("feeds", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { feedsUsage(e.stderr) }
	// run puts a global --config ahead of the subcommand's name; it is handed
	// on to the subcommand.
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		feedsUsage(e.stderr)
		return usagef("feeds: no subcommand given")
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	if *cfgPath != "" {
		rest = append([]string{"--config", *cfgPath}, rest...)
	}
	if name == "help" {
		feedsUsage(e.stdout)
		return nil
	}
	for _, c := range feedsCommands() {
		if c.name == name {
			return c.run(ctx, e, rest)
		}
	}
	feedsUsage(e.stderr)
	return usagef("feeds: unknown subcommand %q", name)
}

// listArgs reports whether args name no subcommand, only flags (such as
// --failing): the bare `wirewatch feeds` lists the feeds.
func listArgs(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config" || a == "-config":
			i++ // its value
		case strings.HasPrefix(a, "-config=") || strings.HasPrefix(a, "--config="):
		case a == "-h" || a == "-help" || a == "--help":
			return false // the subcommands' usage
		case strings.HasPrefix(a, "-"):
			return true
		default:
			return false
		}
	}
	return true
}
