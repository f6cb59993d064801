package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of the whole command to the file
// named by WIREWATCH_CPUPROFILE, when it is set, for `go tool pprof`. It
// is a measuring aid (make bench uses it to show where a poll's time
// goes), not something to leave on in production. The returned function
// stops the profile and closes the file; it does nothing when the
// variable is unset or the profile could not start, which is reported on
// stderr without stopping the command.
func startCPUProfile(getenv func(string) string, stderr io.Writer) (stop func()) {
	path := getenv("WIREWATCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(stderr, "wirewatch: WIREWATCH_CPUPROFILE:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(stderr, "wirewatch: WIREWATCH_CPUPROFILE:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(stderr, "wirewatch: WIREWATCH_CPUPROFILE:", err)
		}
	}
}
