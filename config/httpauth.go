package config

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// Secret is a credential. It prints, logs and marshals as [redacted], so
// that a configuration dumped for debugging does not leak it; string(s) is
// the value.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders (JSON, YAML) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Environment variables that hold the HTTP credentials. They take
// precedence over the files named in the configuration.
const (
	EnvHTTPToken     = "WIREWATCH_HTTP_TOKEN"
	EnvHTTPBasicAuth = "WIREWATCH_HTTP_BASIC_AUTH"
)

// Least lengths of the credentials: a token or password guessed in a few
// tries would protect nothing.
const (
	minTokenLen    = 16
	minPasswordLen = 8
)

// HasAuth says whether the HTTP server has credentials to ask for.
func (h HTTP) HasAuth() bool { return h.Token != "" || h.BasicAuth != "" }

// BasicAuthUser splits BasicAuth into user and password.
func (h HTTP) BasicAuthUser() (user, password string) {
	user, password, _ = strings.Cut(string(h.BasicAuth), ":")
	return user, password
}

// IsLoopback says whether a host:port address listens on the loopback
// interface only: localhost, 127.0.0.0/8 or ::1. An empty host (":8080")
// listens everywhere, and other names could resolve anywhere.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadHTTPAuth reads the HTTP credentials: WIREWATCH_HTTP_TOKEN and
// WIREWATCH_HTTP_BASIC_AUTH, else the files http.token_file and
// http.basic_auth_file name (relative to the configuration file). The
// values are never part of an error message.
func (c *Config) loadHTTPAuth(getenv func(string) string) error {
	var errs Errors
	var sources []string
	read := func(env, key, file string, check func(string) string) Secret {
		if v := strings.TrimSpace(getenv(env)); v != "" {
			if msg := check(v); msg != "" {
				errs = append(errs, &Error{Key: env, Msg: msg})
				return ""
			}
			sources = append(sources, env)
			return Secret(v)
		}
		if file == "" {
			return ""
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(c.dir(), file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, c.Errorf(key, "cannot read it: %v", err))
			return ""
		}
		v := strings.TrimSpace(string(data))
		if msg := check(v); msg != "" {
			errs = append(errs, c.Errorf(key, "%s: %s", file, msg))
			return ""
		}
		sources = append(sources, file)
		return Secret(v)
	}
	c.HTTP.Token = read(EnvHTTPToken, "http.token_file", c.HTTP.TokenFile, func(v string) string {
		switch {
		case v == "":
			return "empty: want an access token"
		case len(v) < minTokenLen || strings.ContainsAny(v, " \t\r\n"):
			return fmt.Sprintf("want a token of at least %d characters without spaces (for example the output of `openssl rand -hex 32`)", minTokenLen)
		}
		return ""
	})
	c.HTTP.BasicAuth = read(EnvHTTPBasicAuth, "http.basic_auth_file", c.HTTP.BasicAuthFile, func(v string) string {
		user, password, ok := strings.Cut(v, ":")
		switch {
		case !ok || user == "" || strings.Contains(v, "\n"):
			return "want one line user:password"
		case len(password) < minPasswordLen:
			return fmt.Sprintf("the password must have at least %d characters", minPasswordLen)
		}
		return ""
	})
	c.HTTP.AuthSource = strings.Join(sources, " and ")
	if len(errs) > 0 {
		return errs
	}
	return nil
}
