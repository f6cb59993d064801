package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs are the processes the harness started and has not seen end; they
// are stopped, by their ids, when it exits for any reason.
type procs struct {
	mu   sync.Mutex
	live map[*proc]bool
}

// proc is a started command; done is closed once it has ended and err
// says how.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func newProcs() *procs { return &procs{live: map[*proc]bool{}} }

func (ps *procs) start(cmd *exec.Cmd) (*proc, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.live == nil {
		return nil, errors.New("stopping: no new processes")
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	ps.live[p] = true
	go func() {
		p.err = cmd.Wait()
		ps.mu.Lock()
		delete(ps.live, p)
		ps.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// wait waits for p to end.
func (p *proc) wait() error {
	<-p.done
	return p.err
}

// stop asks p to end (SIGTERM), kills it after grace, and waits for it.
func (p *proc) stop(grace time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.err
}

// stopAll ends every process still running and refuses new ones.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	var live []*proc
	for p := range ps.live {
		live = append(live, p)
	}
	ps.live = nil
	ps.mu.Unlock()
	for _, p := range live {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(5 * time.Second)
	for _, p := range live {
		select {
		case <-p.done:
		case <-deadline:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// sample is what one run of a measured command cost.
type sample struct {
	wall   time.Duration
	cpu    float64 // seconds of user and system time of the command
	rssMB  float64 // its peak resident set
	pgCPU  float64 // seconds of CPU the PostgreSQL cluster used meanwhile; -1 when unknown
	stdout string
}

// measure runs argv to completion and returns what it cost. Its stderr
// goes to logPath.
func (h *harness) measure(ctx context.Context, logPath string, env []string, argv ...string) (sample, error) {
	var s sample
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	logf, err := os.Create(logPath)
	if err != nil {
		return s, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	pgBefore := h.pgCPU()
	start := time.Now()
	p, err := h.procs.start(cmd)
	if err != nil {
		return s, err
	}
	err = p.wait()
	s.wall = time.Since(start)
	s.stdout = out.String()
	if st := cmd.ProcessState; st != nil {
		s.cpu = (st.UserTime() + st.SystemTime()).Seconds()
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			s.rssMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
		}
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w (stdout: %s; log: %s)", filepath.Base(argv[0]), err, strings.TrimSpace(s.stdout), tail(logPath, 5))
	}
	s.pgCPU = h.pgDelta(pgBefore)
	return s, nil
}

// pgDelta is the cluster's CPU time since before, once the backends of a
// command that just ended have exited.
func (h *harness) pgDelta(before float64) float64 {
	if before < 0 {
		return -1
	}
	time.Sleep(300 * time.Millisecond)
	after := h.pgCPU()
	if after < 0 {
		return -1
	}
	return after - before
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The PostgreSQL cluster's CPU time is read from /proc: the postmaster's
// own time and that of its children it has reaped (backends that ended),
// plus the time of every child still running. The postmaster is the parent
// of our own backend. This needs the server on this machine; elsewhere the
// figure is unknown (-1).

const clockTicks = 100 // USER_HZ, 100 on every Linux architecture Go supports

type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime int64 // clock ticks
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(data))
}

// parseStat reads /proc/PID/stat; the command name in parentheses may hold
// spaces, so fields are counted after its closing parenthesis.
func parseStat(s string) (procStat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); ppid is field 4, utime..cstime fields 14..17.
	if len(f) < 15 {
		return procStat{}, errors.New("short stat")
	}
	var st procStat
	var err error
	num := func(k int) int64 {
		v, e := strconv.ParseInt(f[k-3], 10, 64)
		if e != nil {
			err = e
		}
		return v
	}
	st.ppid = int(num(4))
	st.utime, st.stime, st.cutime, st.cstime = num(14), num(15), num(16), num(17)
	return st, err
}

// pgCPU is the cluster's CPU seconds so far, or -1 when unknown.
func (h *harness) pgCPU() float64 {
	if h.postmaster <= 0 {
		return -1
	}
	pm, err := readStat(h.postmaster)
	if err != nil {
		return -1
	}
	ticks := pm.utime + pm.stime + pm.cutime + pm.cstime
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.ppid != h.postmaster {
			continue
		}
		ticks += st.utime + st.stime + st.cutime + st.cstime
	}
	return float64(ticks) / clockTicks
}

// findPostmaster returns the id of the postmaster whose child backendPID
// is, when it runs on this machine.
func findPostmaster(backendPID int) int {
	st, err := readStat(backendPID)
	if err != nil {
		return 0
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", st.ppid))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(comm)), "postgres") {
		return 0
	}
	return st.ppid
}

// startServer starts a long-running command (the farm) and returns it with
// the first n lines of its stdout, which it prints when ready.
func (h *harness) startServer(ctx context.Context, logPath string, n int, timeout time.Duration, argv ...string) (*proc, []string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	defer logf.Close() // the child has its own descriptors
	cmd.Stderr = logf
	// A pipe of our own, which cmd.Wait leaves alone: the farm's output is
	// read while it runs.
	stdout, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdout = w
	p, err := h.procs.start(cmd)
	w.Close()
	if err != nil {
		stdout.Close()
		return nil, nil, err
	}
	lines := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(stdout)
		for len(got) < n && sc.Scan() {
			got = append(got, sc.Text())
		}
		lines <- got
		_, _ = io.Copy(io.Discard, stdout)
		stdout.Close()
	}()
	select {
	case got := <-lines:
		if len(got) == n {
			return p, got, nil
		}
		err = fmt.Errorf("%s printed %d of %d lines: %s", filepath.Base(argv[0]), len(got), n, tail(logPath, 5))
	case <-time.After(timeout):
		err = fmt.Errorf("%s not ready after %s: %s", filepath.Base(argv[0]), timeout, tail(logPath, 5))
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = p.stop(5 * time.Second)
	return nil, nil, err
}
