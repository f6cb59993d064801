package classify

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

// trackingParams are query parameters that say how a reader reached a page,
// not which page it is. They are dropped from links before comparing them.
// Parameters starting with "utm_" are dropped as well.
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "gbraid": true, "wbraid": true, "msclkid": true,
	"yclid": true, "twclid": true, "igshid": true, "mc_cid": true, "mc_eid": true, "ocid": true,
	"cmpid": true, "cmp": true, "icid": true, "ito": true, "ns_mchannel": true, "ns_source": true,
	"ns_campaign": true, "ns_linkname": true, "ns_fee": true, "at_medium": true, "at_campaign": true,
	"at_custom1": true, "at_custom2": true, "at_custom3": true, "at_custom4": true, "ref": true,
	"ref_src": true, "smid": true, "smtyp": true,
	"_hsenc": true, "_hsmi": true, "mkt_tok": true, "vero_id": true, "oly_enc_id": true, "oly_anon_id": true,
	"__twitter_impression": true, "s_cid": true, "wt.mc_id": true,
}

// IsTrackingParam reports whether a query parameter is dropped by
// CanonicalURL.
func IsTrackingParam(name string) bool {
	name = strings.ToLower(name)
	return strings.HasPrefix(name, "utm_") || trackingParams[name]
}

// CanonicalURL returns the form of a link used to recognise the same article
// under another URL: scheme and host lower-cased, default port, fragment and
// tracking parameters dropped, the remaining parameters sorted, a trailing
// slash and AMP variants ("/amp", "?outputType=amp") folded. A string that is
// not an absolute http(s) URL is returned trimmed and otherwise unchanged.
func CanonicalURL(raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return raw
	}
	// http and https serve the same article; one scheme keeps them together.
	u.Scheme = "https"
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "80" || port == "443" {
		port = ""
	}
	host = strings.TrimPrefix(host, "amp.")
	if port != "" {
		host += ":" + port
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	u.Host = host
	u.User = nil
	u.Fragment, u.RawFragment = "", ""

	p := u.EscapedPath()
	for _, suffix := range []string{"/amp", "/amp/", ".amp", ".amp.html"} {
		if strings.HasSuffix(p, suffix) && len(p) > len(suffix) {
			p = strings.TrimSuffix(p, suffix)
			if suffix == ".amp.html" {
				p += ".html"
			}
			break
		}
	}
	p = strings.TrimRight(p, "/")
	if err := setEscapedPath(u, p); err != nil {
		return raw
	}

	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			lk := strings.ToLower(k)
			if IsTrackingParam(lk) || (lk == "outputtype" || lk == "output") && len(vs) == 1 && strings.EqualFold(vs[0], "amp") || lk == "amp" {
				delete(q, k)
			}
		}
		u.RawQuery = encodeSorted(q)
	}
	u.ForceQuery = false
	return u.String()
}

func setEscapedPath(u *url.URL, escaped string) error {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return err
	}
	u.Path, u.RawPath = p, ""
	if u.EscapedPath() != escaped {
		u.RawPath = escaped
	}
	return nil
}

func encodeSorted(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}

// ItemKey is the identity under which an item is stored once:
//   - the canonical link, when the item has one that points at an article
//     (a link to a site's front page identifies nothing);
//   - otherwise the GUID, scoped to the feed that published it;
//   - otherwise a hash of the normalized title and text.
func ItemKey(feedURL, guid, link, title, text string) string {
	if c := CanonicalURL(link); isArticleURL(c) {
		return c
	}
	if g := strings.TrimSpace(guid); g != "" {
		return "guid:" + feedURL + " " + g
	}
	return "sha256:" + ContentHash(title, text)
}

func isArticleURL(canonical string) bool {
	u, err := url.Parse(canonical)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return false
	}
	return (u.Path != "" && u.Path != "/") || u.RawQuery != ""
}

// ContentHash hashes normalized title and text, so that whitespace, case and
// markup differences do not make two copies of one item look different.
func ContentHash(title, text string) string {
	h := sha256.New()
	for _, s := range []string{title, text} {
		h.Write([]byte(Normalize(StripHTML(s))))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
