// Package config loads and validates wirewatch's YAML configuration.
//
// Loading follows one order: defaults, then the file, then environment
// overrides, then Validate. Nothing is opened (no database, no socket) until a
// Config has passed Validate. Every error names the file, line and key it is
// about, so that a typo in a watchlist never turns into a silent stop.
//
// The package is a leaf: it imports nothing else from wirewatch.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultPath is where the commands look for the configuration file when
// neither --config nor WIREWATCH_CONFIG says otherwise.
const DefaultPath = "config/wirewatch.yaml"

// Config is the whole configuration. The YAML keys are a stable interface:
// later versions add keys but do not rename these.
type Config struct {
	Database        Database  `yaml:"database"`
	Schedule        string    `yaml:"schedule"`
	Feeds           []Feed    `yaml:"feeds"`
	FeedsFile       string    `yaml:"feeds_file"`
	Watchlist       []Watch   `yaml:"watchlist"`
	HTTP            HTTP      `yaml:"http"`
	Fetch           Fetch     `yaml:"fetch"`
	Log             Log       `yaml:"log"`
	ShutdownTimeout Duration  `yaml:"shutdown_timeout"`
	Retention       Retention `yaml:"retention"`
	Stories         Stories   `yaml:"stories"`
	Metrics         Metrics   `yaml:"metrics"`
	Alerts          []Alert   `yaml:"alerts"`

	// Path is the file the configuration was read from ("" when built in code).
	Path string `yaml:"-"`
	// DatabaseURLSource says where Database.URL came from, for messages that
	// must not print the URL itself (it may carry a password).
	DatabaseURLSource string `yaml:"-"`

	pos    positions
	getenv func(string) string // the environment the file was read with
}

// Env looks a variable up in the environment the configuration was read
// with.
func (c *Config) Env(name string) string {
	return c.env(name)
}

func (c *Config) env(name string) string {
	if c.getenv == nil {
		return os.Getenv(name)
	}
	return c.getenv(name)
}

// Database says how to reach PostgreSQL.
type Database struct {
	// URL is a PostgreSQL connection string (URL or key=value form). When it
	// is empty, the libpq environment variables (PGHOST, PGDATABASE, ...) apply.
	URL string `yaml:"url"`
	// MaxConns caps the connection pool; 0 lets the driver choose.
	MaxConns int32 `yaml:"max_conns"`
}

// Feed is one feed to poll.
type Feed struct {
	URL  string `yaml:"url"`
	Name string `yaml:"name"`
	// Schedule overrides the top-level schedule for this feed.
	Schedule string `yaml:"schedule"`
}

// Watch is one watchlist entry. An item matches it when any of Terms
// occurs, or when Query holds, in the Fields it looks at (title, summary and
// content by default). Terms and queries are checked when the watchlist is
// compiled (classify.Compile); here only their presence.
type Watch struct {
	Name   string   `yaml:"name"`
	Terms  []string `yaml:"terms"`
	Query  string   `yaml:"query"`
	Fields []string `yaml:"fields"`
}

// HTTP configures the daemon's own HTTP server.
type HTTP struct {
	// Listen is the address of the review page and the health and metrics
	// endpoints; "off" disables it. An address other than loopback needs
	// credentials (below).
	Listen string `yaml:"listen"`
	// TokenFile names a file holding an access token: with it, every
	// request but /healthz and /readyz needs "Authorization: Bearer TOKEN"
	// (or basic authentication with any user and the token as password).
	TokenFile string `yaml:"token_file"`
	// BasicAuthFile names a file holding "user:password" for HTTP basic
	// authentication, which browsers ask for.
	BasicAuthFile string `yaml:"basic_auth_file"`

	// Token and BasicAuth are the credentials read from those files, or
	// from WIREWATCH_HTTP_TOKEN and WIREWATCH_HTTP_BASIC_AUTH, which take
	// precedence. They print as [redacted].
	Token     Secret `yaml:"-"`
	BasicAuth Secret `yaml:"-"`
	// AuthSource says where the credentials came from ("" without any),
	// for messages that must not print them.
	AuthSource string `yaml:"-"`
}

// Fetch configures how feeds are fetched.
type Fetch struct {
	// AllowPrivateNetworks permits connections to loopback, private and
	// link-local addresses, which are refused by default so that a feed URL
	// cannot be used to probe the network the daemon runs in.
	AllowPrivateNetworks bool     `yaml:"allow_private_networks"`
	Timeout              Duration `yaml:"timeout"`
	MaxBodySize          ByteSize `yaml:"max_body_size"`
	// Concurrency bounds the number of feeds polled at once.
	Concurrency int    `yaml:"concurrency"`
	UserAgent   string `yaml:"user_agent"`
	// PerHostConcurrency bounds the requests in flight to one host, and
	// PerHostInterval is the least time between the starts of two requests
	// to it: many feeds on one publisher must not look like an attack.
	PerHostConcurrency int      `yaml:"per_host_concurrency"`
	PerHostInterval    Duration `yaml:"per_host_interval"`
	// MaxBackoff caps the wait before a failing feed is tried again; a feed
	// is never given up on for failing.
	MaxBackoff Duration `yaml:"max_backoff"`
	// MaxInterval caps how far a feed's own hints (Cache-Control, Expires,
	// ttl, sy:updatePeriod) may stretch its interval.
	MaxInterval Duration `yaml:"max_interval"`
	// UnconditionalEvery is how often a feed is fetched without its ETag and
	// Last-Modified, for servers that keep a validator after a change; 0
	// never.
	UnconditionalEvery Duration `yaml:"unconditional_every"`
}

// Retention says how long data that is not a match is kept.
type Retention struct {
	// Unmatched is how long the text of items that matched nothing is kept,
	// so that `wirewatch rematch` can apply a changed watchlist to them; 0
	// keeps none.
	Unmatched Duration `yaml:"unmatched"`
	// Polls is how long poll records are kept (the feed health history);
	// 0 keeps them forever. Matches are never deleted.
	Polls Duration `yaml:"polls"`
}

// Stories says when copies of an item in several outlets are one story.
type Stories struct {
	// Window: only items first seen this close together are compared.
	Window Duration `yaml:"window"`
	// Similarity is the share of their text two items must have in common
	// (estimated Jaccard similarity of word 5-shingles, 0 to 1).
	Similarity float64 `yaml:"similarity"`
}

// Alert is a webhook that receives a digest of new matches on its own
// schedule.
type Alert struct {
	Name string `yaml:"name"`
	// URL is the webhook; URLEnv names an environment variable holding it
	// instead, so a secret URL (Slack's carry a token) stays out of the file.
	URL    string `yaml:"url"`
	URLEnv string `yaml:"url_env"`
	// Format is json (a generic payload) or slack (an incoming-webhook
	// message).
	Format   string `yaml:"format"`
	Schedule string `yaml:"schedule"`
	// Watches limits the digest to matches of these entries; all when empty.
	Watches []string `yaml:"watches"`
	// MinRelevance leaves out matches scored below it (when reference
	// articles are loaded).
	MinRelevance float64 `yaml:"min_relevance"`
}

// WebhookURL is the alert's URL, from the file or the environment
// (getenv; Config.Env for the one the file was read with).
func (a Alert) WebhookURL(getenv func(string) string) string {
	if a.URLEnv != "" {
		return getenv(a.URLEnv)
	}
	return a.URL
}

// Metrics configures the Prometheus metrics served on /metrics.
type Metrics struct {
	// PerFeed adds a series per feed (its last success time). Off by
	// default: with thousands of feeds that is thousands of series.
	PerFeed bool `yaml:"per_feed"`
}

// Log configures the process log.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Default returns a configuration with every default filled in and no feeds
// or watch entries.
func Default() *Config {
	return &Config{
		Schedule: "*/15 * * * *",
		HTTP:     HTTP{Listen: "127.0.0.1:8080"},
		Fetch: Fetch{
			Timeout:     Duration(30 * time.Second),
			MaxBodySize: 16 << 20,
			Concurrency: 16,

			PerHostConcurrency: 2,
			PerHostInterval:    Duration(250 * time.Millisecond),
			MaxBackoff:         Duration(24 * time.Hour),
			MaxInterval:        Duration(6 * time.Hour),
			UnconditionalEvery: Duration(24 * time.Hour),
		},
		Log:             Log{Level: "info", Format: "text"},
		ShutdownTimeout: Duration(30 * time.Second),
		Retention:       Retention{Unmatched: Duration(7 * 24 * time.Hour), Polls: Duration(90 * 24 * time.Hour)},
		Stories:         Stories{Window: Duration(7 * 24 * time.Hour), Similarity: 0.5},
	}
}

// Load reads the file at path over the defaults, applies environment
// overrides and validates the result. The returned error, when not nil, is an
// *Errors listing every problem found with its file and line.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, os.Getenv)
}

// Parse is Load on bytes already read; getenv supplies the environment (pass
// os.Getenv, or a map lookup in tests).
func Parse(path string, data []byte, getenv func(string) string) (*Config, error) {
	c := Default()
	c.Path = path
	if err := decode(c, path, data); err != nil {
		return nil, err
	}
	c.applyEnv(getenv)
	if err := c.loadHTTPAuth(getenv); err != nil {
		return nil, err
	}
	if err := c.loadFeedsFile(); err != nil {
		return nil, err
	}
	c.resolveFileURLs()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) applyEnv(getenv func(string) string) {
	c.getenv = getenv
	c.DatabaseURLSource = "database.url in " + c.Path
	for _, name := range []string{"WIREWATCH_DATABASE_URL", "DATABASE_URL"} {
		if v := getenv(name); v != "" {
			c.Database.URL = v
			c.DatabaseURLSource = name
			return
		}
	}
	if c.Database.URL == "" {
		c.DatabaseURLSource = "libpq environment (PGHOST, PGDATABASE, ...)"
	}
}

// dir is the directory relative paths in the file are resolved against.
func (c *Config) dir() string {
	if c.Path == "" {
		return "."
	}
	return filepath.Dir(c.Path)
}

// resolveFileURLs turns relative file: URLs ("file:demo/feeds/a.xml") into
// absolute file:// URLs, relative to the configuration file, so that a config
// shipped beside its sample feeds works from any working directory.
func (c *Config) resolveFileURLs() {
	for i := range c.Feeds {
		u, err := url.Parse(c.Feeds[i].URL)
		if err != nil || u.Scheme != "file" || u.Opaque == "" {
			continue
		}
		p := u.Opaque
		if !filepath.IsAbs(p) {
			p = filepath.Join(c.dir(), p)
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		c.Feeds[i].URL = (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
	}
}

// Validate checks every value and returns all problems at once.
func (c *Config) Validate() error {
	var errs Errors
	add := func(path, format string, args ...any) {
		errs = append(errs, c.Errorf(path, format, args...))
	}

	if _, err := ParseSchedule(c.Schedule); err != nil {
		add("schedule", "%v", err)
	}
	if len(c.Feeds) == 0 {
		add("feeds", "no feeds: list at least one under feeds: or in feeds_file")
	}
	seenFeed := map[string]int{}
	for i, f := range c.Feeds {
		path := fmt.Sprintf("feeds[%d]", i)
		if err := checkFeedURL(f.URL); err != nil {
			add(path+".url", "%v", err)
		} else if j, dup := seenFeed[f.URL]; dup {
			add(path+".url", "feed %s is listed twice (also at %s)", f.URL, c.where(fmt.Sprintf("feeds[%d].url", j)))
		} else {
			seenFeed[f.URL] = i
		}
		if f.Schedule != "" {
			if _, err := ParseSchedule(f.Schedule); err != nil {
				add(path+".schedule", "%v", err)
			}
		}
	}

	if len(c.Watchlist) == 0 {
		add("watchlist", "empty watchlist: every item would be dropped; add at least one entry with a name and terms")
	}
	seenWatch := map[string]int{}
	for i, w := range c.Watchlist {
		path := fmt.Sprintf("watchlist[%d]", i)
		name := strings.TrimSpace(w.Name)
		switch {
		case name == "":
			add(path+".name", "watch entry without a name")
		default:
			key := strings.ToLower(name)
			if j, dup := seenWatch[key]; dup {
				add(path+".name", "watch entry %q is defined twice (also at %s)", name, c.where(fmt.Sprintf("watchlist[%d].name", j)))
			} else {
				seenWatch[key] = i
			}
		}
		if len(w.Terms) == 0 && strings.TrimSpace(w.Query) == "" {
			add(path+".terms", "watch entry %q has no terms and no query: give it at least one", name)
		}
		for j, t := range w.Terms {
			if strings.TrimSpace(t) == "" {
				add(fmt.Sprintf("%s.terms[%d]", path, j), "empty term in watch entry %q", name)
			}
		}
	}

	if c.HTTP.Listen != "off" && c.HTTP.Listen != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			add("http.listen", "want host:port (for example 127.0.0.1:8080) or \"off\": %v", err)
		} else if !IsLoopback(c.HTTP.Listen) && !c.HTTP.HasAuth() {
			add("http.listen", "%s is not a loopback address, and the review page would be open to anyone who "+
				"reaches it: set http.token_file or http.basic_auth_file (or WIREWATCH_HTTP_TOKEN or "+
				"WIREWATCH_HTTP_BASIC_AUTH), or listen on 127.0.0.1", c.HTTP.Listen)
		}
	}
	if c.Fetch.Timeout <= 0 {
		add("fetch.timeout", "must be positive, for example 30s")
	}
	if c.Fetch.MaxBodySize <= 0 {
		add("fetch.max_body_size", "must be positive, for example 16MiB")
	}
	if c.Fetch.Concurrency < 1 {
		add("fetch.concurrency", "must be at least 1")
	}
	if c.Fetch.PerHostConcurrency < 1 {
		add("fetch.per_host_concurrency", "must be at least 1")
	}
	if c.Fetch.PerHostInterval < 0 {
		add("fetch.per_host_interval", "must not be negative (0 for no gap)")
	}
	if c.Fetch.MaxBackoff < Duration(time.Minute) {
		add("fetch.max_backoff", "must be at least 1m, for example 24h")
	}
	if c.Fetch.MaxInterval < 0 {
		add("fetch.max_interval", "must not be negative (0 ignores the feeds' own hints)")
	}
	if c.Fetch.UnconditionalEvery < 0 {
		add("fetch.unconditional_every", "must not be negative (0 never)")
	}
	if c.Database.MaxConns < 0 {
		add("database.max_conns", "must not be negative")
	}
	if c.ShutdownTimeout <= 0 {
		add("shutdown_timeout", "must be positive, for example 30s")
	}
	if c.Stories.Window <= 0 {
		add("stories.window", "must be positive, for example 7d")
	}
	if c.Stories.Similarity <= 0 || c.Stories.Similarity > 1 {
		add("stories.similarity", "want a share between 0 and 1, for example 0.5")
	}
	if c.Retention.Unmatched < 0 {
		add("retention.unmatched", "must not be negative (0 keeps nothing)")
	}
	switch {
	case c.Retention.Polls < 0:
		add("retention.polls", "must not be negative (0 keeps them all)")
	case c.Retention.Polls > 0 && c.Retention.Polls < Duration(8*24*time.Hour):
		add("retention.polls", "keep at least 8d: feed health counts the last 7 days of polls")
	}
	seenAlert := map[string]int{}
	for i, a := range c.Alerts {
		path := fmt.Sprintf("alerts[%d]", i)
		if strings.TrimSpace(a.Name) == "" {
			add(path+".name", "alert without a name")
		} else if j, dup := seenAlert[a.Name]; dup {
			add(path+".name", "alert %q is defined twice (also at %s)", a.Name, c.where(fmt.Sprintf("alerts[%d].name", j)))
		} else {
			seenAlert[a.Name] = i
		}
		switch {
		case a.URL == "" && a.URLEnv == "":
			add(path+".url", "alert %q has no url (or url_env naming a variable that holds it)", a.Name)
		case a.URL != "" && a.URLEnv != "":
			add(path+".url", "give url or url_env, not both")
		case a.URLEnv != "" && c.env(a.URLEnv) == "":
			add(path+".url_env", "environment variable %s is empty or not set", a.URLEnv)
		default:
			if u, err := url.Parse(a.WebhookURL(c.env)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add(path+".url", "want an http or https URL") // the URL itself is not printed: it may hold a token
			}
		}
		switch a.Format {
		case "", "json", "slack":
		default:
			add(path+".format", "want json or slack, not %q", a.Format)
		}
		if _, err := ParseSchedule(a.Schedule); err != nil {
			add(path+".schedule", "%v", err)
		}
		if a.MinRelevance < 0 || a.MinRelevance > 1 {
			add(path+".min_relevance", "want a score between 0 and 1")
		}
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "want debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", "want text or json, not %q", c.Log.Format)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func checkFeedURL(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return fmt.Errorf("feed without a url")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("URL %q has no host", raw)
		}
	case "file":
		if u.Path == "" {
			return fmt.Errorf("file URL %q has no path", raw)
		}
	default:
		return fmt.Errorf("URL %q: want an http, https or file URL", raw)
	}
	return nil
}

// ParseSchedule parses a standard five-field cron spec or a descriptor such as
// "@hourly" or "@every 10m".
func ParseSchedule(spec string) (cron.Schedule, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("empty schedule: want a cron spec such as \"*/15 * * * *\" or \"@every 15m\"")
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("bad schedule %q: %v (want a cron spec such as \"*/15 * * * *\" or \"@every 15m\")", spec, err)
	}
	return s, nil
}

// FeedSchedule is the schedule spec that applies to feed f.
func (c *Config) FeedSchedule(f Feed) string {
	if f.Schedule != "" {
		return f.Schedule
	}
	return c.Schedule
}
