package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces what is hidden.
const Redacted = "REDACTED"

var (
	userinfoRE   = regexp.MustCompile(`://[^/?#\s]*@`)
	secretParams = regexp.MustCompile(`(?i)^(pass|passwd|password|pwd|secret|token|key|auth|apikey|api_key)$`)
)

// URL returns s with its userinfo and secret-looking query values replaced
// by REDACTED. Unparseable input has anything between "://" and "@"
// replaced and anything after "?" cut.
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		s = Userinfo(s)
		if i := strings.IndexByte(s, '?'); i >= 0 {
			s = s[:i+1] + Redacted
		}
		return s
	}
	if u.User != nil {
		u.User = url.User(Redacted)
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil { // a malformed pair could still hide a secret
			u.RawQuery = Redacted
			return u.String()
		}
		changed := false
		for k := range q {
			if secretParams.MatchString(k) {
				q[k] = []string{Redacted}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// Userinfo replaces anything between "://" and "@" in free text (an error
// message that may quote a URL), leaving the rest as it is.
func Userinfo(text string) string {
	return userinfoRE.ReplaceAllString(text, "://"+Redacted+"@")
}
