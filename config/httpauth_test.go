package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.8.9.1:80": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "192.168.1.10:8080": false,
		"example.com:8080": false, "localhost.example.com:80": false, "127.0.0.1": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// A server reachable from other machines needs credentials: without them
// the configuration is invalid, and the error names the key.
func TestNonLoopbackListenNeedsCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "wirewatch.yaml")
	conf := func(extra string) []byte { return []byte(minimal + "http:\n  listen: 0.0.0.0:8080\n" + extra) }

	_, err := Parse(path, conf(""), noEnv)
	if err == nil || !strings.Contains(err.Error(), path+":10:3: http.listen: 0.0.0.0:8080 is not a loopback address") ||
		!strings.Contains(err.Error(), "http.token_file") || !strings.Contains(err.Error(), "WIREWATCH_HTTP_TOKEN") {
		t.Fatalf("error = %v", err)
	}
	if _, err := Parse(path, []byte(minimal+"http:\n  listen: '[::1]:8080'\n"), noEnv); err != nil {
		t.Fatalf("loopback without credentials: %v", err)
	}

	const token = "0123456789abcdef0123"
	env := func(name, value string) func(string) string {
		return func(k string) string {
			if k == name {
				return value
			}
			return ""
		}
	}
	c, err := Parse(path, conf(""), env(EnvHTTPToken, token+"\n"))
	if err != nil || string(c.HTTP.Token) != token || c.HTTP.AuthSource != EnvHTTPToken {
		t.Fatalf("token from the environment: %v, %q from %q", err, c.HTTP.Token, c.HTTP.AuthSource)
	}
	// The credentials never print.
	j, _ := json.Marshal(c.HTTP)
	for _, s := range []string{fmt.Sprint(c.HTTP), fmt.Sprintf("%+v", c.HTTP), fmt.Sprintf("%#v", c.HTTP), string(j)} {
		if strings.Contains(s, token) || !strings.Contains(s, "[redacted]") {
			t.Errorf("credentials printed: %s", s)
		}
	}

	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "basic"), []byte("analyst:correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Parse(path, conf("  token_file: token\n  basic_auth_file: "+filepath.Join(dir, "basic")+"\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if user, pw := c.HTTP.BasicAuthUser(); string(c.HTTP.Token) != token || user != "analyst" || pw != "correct horse battery" {
		t.Fatalf("credentials from files: %q, %q %q", c.HTTP.Token, user, pw)
	}
	// The environment wins over a file.
	c, err = Parse(path, conf("  basic_auth_file: basic\n"), env(EnvHTTPBasicAuth, "ops:another password"))
	if user, _ := c.HTTP.BasicAuthUser(); err != nil || user != "ops" || c.HTTP.AuthSource != EnvHTTPBasicAuth {
		t.Fatalf("basic auth from the environment: %v, %q from %q", err, user, c.HTTP.AuthSource)
	}

	for name, tc := range map[string]struct {
		yaml string
		env  func(string) string
		want string
	}{
		"missing file":     {"  token_file: nope\n", noEnv, "http.token_file: cannot read it"},
		"short token":      {"  token_file: short\n", noEnv, "http.token_file: " + filepath.Join(dir, "short") + ": want a token of at least 16 characters"},
		"no colon":         {"  basic_auth_file: short\n", noEnv, "http.basic_auth_file: " + filepath.Join(dir, "short") + ": want one line user:password"},
		"short password":   {"", env(EnvHTTPBasicAuth, "ops:pw"), "WIREWATCH_HTTP_BASIC_AUTH: the password must have at least 8 characters"},
		"token with space": {"", env(EnvHTTPToken, "0123456789 abcdef0123"), "WIREWATCH_HTTP_TOKEN: want a token"},
	} {
		if err := os.WriteFile(filepath.Join(dir, "short"), []byte("s3cret"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Parse(path, conf(tc.yaml), tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "0123456789 abcdef")) {
			t.Errorf("%s: the error shows the credential: %v", name, err)
		}
	}
}
