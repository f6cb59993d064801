package review

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
)

// Credentials are what the server asks of each request; the zero value
// asks for nothing.
type Credentials struct {
	// Token is accepted as "Authorization: Bearer TOKEN", and as the
	// password of basic authentication with any user name, so that a
	// browser can use it too.
	Token string
	// User and Password are accepted as basic authentication.
	User, Password string
}

func (c Credentials) empty() bool { return c.Token == "" && c.User == "" }

// ContentSecurityPolicy lets the page load its own stylesheet and images
// and nothing else: no script at all, no frames, forms posting only here,
// and no other site may frame the page.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"base-uri 'none'; frame-ancestors 'none'"

// Protect wraps next so that every response carries the security headers
// and every request, except those for the public paths, must present the
// credentials (when there are any): 401 otherwise.
func Protect(next http.Handler, creds Credentials, public ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !creds.empty() && !slices.Contains(public, r.URL.Path) && !creds.allow(r) {
			hd.Add("WWW-Authenticate", `Basic realm="wirewatch", charset="UTF-8"`)
			hd.Add("WWW-Authenticate", `Bearer realm="wirewatch"`)
			http.Error(w, "unauthorized: this wirewatch asks for its access token or user and password", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allow says whether r carries the credentials.
func (c Credentials) allow(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if scheme, token, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return c.Token != "" && same(strings.TrimSpace(token), c.Token)
	}
	user, password, ok := r.BasicAuth()
	if !ok {
		return false
	}
	// Both comparisons run whatever the first gives, so the time taken
	// does not tell which one failed.
	byToken := c.Token != "" && same(password, c.Token)
	userOK, passwordOK := same(user, c.User), same(password, c.Password)
	return byToken || c.User != "" && userOK && passwordOK
}

// same compares in constant time, lengths included: the digests of both
// have the same length whatever was sent.
func same(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
