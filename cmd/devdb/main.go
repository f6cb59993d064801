// Command devdb runs a local PostgreSQL cluster for development, the demo
// and the tests, with the PostgreSQL server binaries already on the machine.
// It is what lets `make run`, `make demo` and `make test` work from a fresh
// clone without a database set up beforehand.
//
//	devdb start [-dir DIR] [-db NAME]                init (once) and start a cluster; print its URL
//	devdb stop  [-dir DIR]                           stop it
//	devdb exec  [-dir DIR] [-db NAME] [-config F] -- CMD...
//	                                                 run CMD against that cluster, unless a
//	                                                 database is configured already
//	devdb with  [-db NAME] -- CMD...                 run CMD with DATABASE_URL set to a throwaway cluster
//
// The cluster listens only on a Unix socket inside its own directory, so it
// never clashes with another PostgreSQL on the machine.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wirewatch/wirewatch/config"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		var exit exitCode
		if errors.As(err, &exit) {
			os.Exit(int(exit))
		}
		fmt.Fprintln(os.Stderr, "devdb:", err)
		os.Exit(1)
	}
}

type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

const usage = `usage:
  devdb start [-dir DIR] [-db NAME]   start (and on first use create) a local cluster; prints its URL
  devdb stop  [-dir DIR]              stop the cluster
  devdb exec  [-dir DIR] [-db NAME] [-config FILE] -- CMD...
                                      run CMD with DATABASE_URL set to that cluster, started if
                                      needed; when a database is already configured (DATABASE_URL,
                                      WIREWATCH_DATABASE_URL, PGHOST/PGDATABASE, or database.url
                                      in FILE) run CMD as it is
  devdb with  [-db NAME] -- CMD...    run CMD with DATABASE_URL set to a throwaway cluster
                                      (or the DATABASE_URL already set)`

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return exitCode(2)
	}
	fs := flag.NewFlagSet("devdb "+args[0], flag.ContinueOnError)
	dir := fs.String("dir", ".wirewatch/pg", "cluster directory")
	db := fs.String("db", "wirewatch", "database to create and connect to")
	cfgFile := fs.String("config", "", "wirewatch configuration whose database.url, when set, is used instead")
	if err := fs.Parse(args[1:]); err != nil {
		return exitCode(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "start":
		url, err := startLocal(ctx, *dir, *db)
		if err != nil {
			return err
		}
		fmt.Println(url)
		return nil
	case "stop":
		c, err := newCluster(*dir)
		if err != nil {
			return err
		}
		return c.stop()
	case "with":
		return with(ctx, *db, fs.Args())
	case "exec":
		if fs.NArg() == 0 {
			return errors.New("exec: no command given")
		}
		if src := configuredDatabase(*cfgFile); src != "" {
			logf("using the database configured by %s", src)
			return runCmd(fs.Args(), nil)
		}
		url, err := startLocal(ctx, *dir, *db)
		if err != nil {
			return err
		}
		logf("DATABASE_URL=%s (stop the cluster with: make db-stop)", url)
		return runCmd(fs.Args(), []string{"DATABASE_URL=" + url})
	}
	fmt.Fprintln(os.Stderr, usage)
	return exitCode(2)
}

// startLocal starts (or reuses) the long-lived cluster in dir and returns
// the URL of database db in it.
func startLocal(ctx context.Context, dir, db string) (string, error) {
	c, err := newCluster(dir)
	if err != nil {
		return "", err
	}
	return c.start(ctx, db, false)
}

// with runs a command against a throwaway cluster that lives only as long as
// the command.
func with(ctx context.Context, db string, argv []string) error {
	if len(argv) == 0 {
		return errors.New("with: no command given")
	}
	if os.Getenv("DATABASE_URL") != "" {
		logf("using the DATABASE_URL already set")
		return runCmd(argv, nil)
	}
	tmp, err := os.MkdirTemp("", "wirewatch-pg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c, err := newCluster(filepath.Join(tmp, "data"))
	if err != nil {
		return err
	}
	url, err := c.start(ctx, db, true)
	if err != nil {
		return err
	}
	defer func() {
		if err := c.stop(); err != nil {
			logf("%v", err)
		}
	}()
	return runCmd(argv, []string{"DATABASE_URL=" + url})
}

// configuredDatabase names what already points wirewatch at a database, or
// returns "" when nothing does.
func configuredDatabase(cfgFile string) string {
	for _, v := range []string{"WIREWATCH_DATABASE_URL", "DATABASE_URL", "PGHOST", "PGDATABASE", "PGSERVICE"} {
		if os.Getenv(v) != "" {
			return v
		}
	}
	if cfgFile == "" {
		return ""
	}
	// An invalid file is wirewatch's to report; here it only means "not set".
	if cfg, err := config.Load(cfgFile); err == nil && cfg.Database.URL != "" {
		return "database.url in " + cfgFile
	}
	return ""
}

func runCmd(argv, env []string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitCode(ee.ExitCode())
	}
	return err
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "devdb: "+format+"\n", args...)
}

type cluster struct {
	dir    string // data directory
	socket string // directory of the Unix socket
	bin    string // directory of initdb, pg_ctl
	owner  *syscall.Credential
}

const superuser = "wirewatch"

func newCluster(dir string) (*cluster, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: abs, socket: abs, bin: bin}
	// A socket path is limited to about 100 bytes; a deep checkout gets its
	// socket under the temp directory instead.
	if len(c.socket)+len("/.s.PGSQL.5432") > 100 {
		sum := sha256.Sum256([]byte(abs))
		c.socket = filepath.Join(os.TempDir(), "wirewatch-pg-"+hex.EncodeToString(sum[:6]))
	}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root; run it as the postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.New("running as root and there is no postgres user to run the server as; " +
				"create one (useradd --system postgres) or run as an ordinary user")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.owner = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	return c, nil
}

func findBinaries() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	// Debian and Ubuntu keep them out of PATH, one directory per version.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs = append(dirs, globAll("/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin")...)
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New(`no PostgreSQL server binaries (initdb, pg_ctl) found on this machine.
Get a database one of these ways:
  - install the server: apt-get install postgresql (Debian/Ubuntu), dnf install postgresql-server (Fedora),
    brew install postgresql@16 (macOS); then run this again;
  - run one in Docker: docker compose up -d db, then
    export DATABASE_URL=postgres://wirewatch:wirewatch@127.0.0.1:5432/wirewatch
  - or set DATABASE_URL to any PostgreSQL 13 or newer you can use.`)
}

func globAll(patterns ...string) []string {
	var out []string
	for _, p := range patterns {
		m, _ := filepath.Glob(p)
		out = append(out, m...)
	}
	return out
}

// version extracts the major version from a path like /usr/lib/postgresql/15/bin.
func version(dir string) int {
	for _, part := range strings.FieldsFunc(dir, func(r rune) bool { return r < '0' || r > '9' }) {
		if n, err := strconv.Atoi(part); err == nil {
			return n
		}
	}
	return 0
}

func (c *cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	if c.owner != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.owner}
		cmd.Dir = "/" // the server user may not be allowed into the current directory
	}
	return cmd
}

func (c *cluster) chown(path string) error {
	if c.owner == nil {
		return nil
	}
	return os.Chown(path, int(c.owner.Uid), int(c.owner.Gid))
}

// start creates the cluster when its directory is empty, starts it unless it
// is running, creates the database and returns its URL.
func (c *cluster) start(ctx context.Context, db string, throwaway bool) (string, error) {
	if _, err := os.Stat(filepath.Join(c.dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		logf("creating a PostgreSQL cluster in %s (binaries from %s)", c.dir, c.bin)
		if err := c.initdb(); err != nil {
			return "", err
		}
	}
	if c.running() {
		logf("reusing the PostgreSQL cluster running in %s", c.dir)
	} else {
		if err := os.MkdirAll(c.socket, 0o755); err != nil {
			return "", err
		}
		if err := c.chown(c.socket); err != nil {
			return "", err
		}
		opts := fmt.Sprintf("-c listen_addresses='' -c unix_socket_directories='%s'", c.socket)
		if throwaway {
			// Durability is pointless for a cluster deleted after the run.
			opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		}
		logf("starting PostgreSQL (data in %s, log in %s)", c.dir, filepath.Join(c.dir, "server.log"))
		cmd := c.command("pg_ctl", "start", "-w", "-t", "60", "-D", c.dir, "-l", filepath.Join(c.dir, "server.log"), "-o", opts)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("pg_ctl start: %v\n%s\nsee %s", err, out, filepath.Join(c.dir, "server.log"))
		}
	}
	if err := c.createDatabase(ctx, db); err != nil {
		return "", err
	}
	return c.url(db), nil
}

func (c *cluster) initdb() error {
	parent := filepath.Dir(c.dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	if c.owner != nil {
		// The server user must be able to reach its data directory.
		if err := os.Chmod(parent, 0o755); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	if err := c.chown(c.dir); err != nil {
		return err
	}
	cmd := c.command("initdb", "-D", c.dir, "-U", superuser, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

func (c *cluster) running() bool {
	return c.command("pg_ctl", "status", "-D", c.dir).Run() == nil
}

func (c *cluster) stop() error {
	if !c.running() {
		return nil
	}
	if out, err := c.command("pg_ctl", "stop", "-w", "-m", "fast", "-D", c.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

func (c *cluster) url(db string) string {
	return fmt.Sprintf("postgres://%s@/%s?host=%s", superuser, db, c.socket)
}

func (c *cluster) createDatabase(ctx context.Context, db string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url("postgres"))
	if err != nil {
		return fmt.Errorf("connect to the local cluster: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	logf("creating database %s", db)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
	return err
}
