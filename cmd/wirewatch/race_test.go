//go:build race

package main

// raceEnabled makes the tests build the binary they run with -race too.
const raceEnabled = true
