// Command farm serves a generated farm of news feeds on loopback, for the
// benchmarks (make bench) and anyone who wants many realistic feeds to poll.
//
//	farm [-feeds 2000] [-items 50] [-seed 1] [-hosts 16] [-addr 127.0.0.1] [-port 0]
//
// It generates feeds x items stories of world news (RSS 2.0, Atom 1.0,
// RSS 1.0 and JSON Feed; a quarter of the feeds with full text), about 3% of
// them about Libya, Haftar, Wagner or Assad, so that the shipped watchlist
// keeps about 3% of the items; the same flags always give the same bytes.
// It serves them from -hosts loopback addresses (127.0.0.1, 127.0.0.2, ...)
// on one port, feed i on host i mod hosts, with ETag and Last-Modified,
// 304 Not Modified to conditional requests, and gzip when the client asks
// for it. When every host listens it prints one feed URL per line on
// stdout and a summary on stderr, then serves until SIGINT or SIGTERM.
//
// GET /_farm/stats on any host answers the request counts since the start
// (or the last POST /_farm/reset) as JSON.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "farm:", err)
		os.Exit(1)
	}
}

func run() error {
	feeds := flag.Int("feeds", 2000, "number of feeds")
	items := flag.Int("items", 50, "items per feed")
	seed := flag.Uint64("seed", 1, "seed of the generator")
	hosts := flag.Int("hosts", 16, "loopback addresses to serve from (127.0.0.1 upwards)")
	addr := flag.String("addr", "127.0.0.1", "first loopback address")
	port := flag.Int("port", 0, "port on every address; 0 picks a free one")
	flag.Parse()
	if *feeds < 1 || *items < 0 || *hosts < 1 || *hosts > 250 {
		return errors.New("need -feeds >= 1, -items >= 0 and 1 <= -hosts <= 250")
	}
	first := net.ParseIP(*addr).To4()
	if first == nil || !first.IsLoopback() || int(first[3])+*hosts-1 > 254 {
		return fmt.Errorf("-addr %s: want an IPv4 loopback address with room for %d hosts after it", *addr, *hosts)
	}

	lns, err := listen(first, *port, *hosts)
	if err != nil {
		return err
	}
	start := time.Now()
	s := newServer()
	urls := s.generate(*seed, *feeds, *items, lns)
	st := s.summary
	fmt.Fprintf(os.Stderr, "farm: %d feeds x %d items (seed %d): %d items, %d mention a watched subject (%.1f%%), %d traps, %d wire copies; "+
		"%.1f MB (%.1f MB gzipped), generated in %s; serving on %d hosts\n",
		*feeds, *items, *seed, st.items, st.mentions, 100*float64(st.mentions)/float64(max(1, st.items)), st.traps, st.wires,
		float64(st.bytes)/1e6, float64(st.gzBytes)/1e6, time.Since(start).Round(time.Millisecond), len(lns))

	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	out := make([]byte, 0, len(urls)*48)
	for _, u := range urls {
		out = append(out, u...)
		out = append(out, '\n')
	}
	if _, err := os.Stdout.Write(out); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// listen opens port on n consecutive loopback addresses from first; with
// port 0 it picks a port that is free on all of them.
func listen(first net.IP, port, n int) ([]net.Listener, error) {
	var lastErr error
	for range 20 {
		var lns []net.Listener
		p := port
		ok := true
		for k := range n {
			ip := net.IPv4(first[0], first[1], first[2], first[3]+byte(k))
			ln, err := net.Listen("tcp4", net.JoinHostPort(ip.String(), fmt.Sprint(p)))
			if err != nil {
				lastErr = err
				ok = false
				break
			}
			if p == 0 {
				p = ln.Addr().(*net.TCPAddr).Port
			}
			lns = append(lns, ln)
		}
		if ok {
			return lns, nil
		}
		for _, ln := range lns {
			ln.Close()
		}
		if port != 0 {
			break
		}
	}
	return nil, fmt.Errorf("listen: %w", lastErr)
}

// generate renders every feed, in parallel, and returns their URLs in feed
// order.
func (s *server) generate(seed uint64, n, m int, lns []net.Listener) []string {
	g := newGen(seed)
	urls := make([]string, n)
	entries := make([]*entry, n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= n {
					return
				}
				f := g.feed(k, m)
				u := "http://" + lns[k%len(lns)].Addr().String() + f.path()
				urls[k] = u
				entries[k] = newEntry(f, u)
			}
		}()
	}
	wg.Wait()
	for k, e := range entries {
		s.byPath[e.path] = entries[k]
		s.summary.add(e)
	}
	return urls
}
