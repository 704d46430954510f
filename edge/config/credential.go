package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// CredentialScheme starts a camera credential reference.
const CredentialScheme = "vault:"

// ErrNoPassword means a source URL holds no password.
var ErrNoPassword = errors.New("no password in the source URL")

// CredentialName is the name of camera id's password in the device's vault
// of sealed secrets (issue 13, R32): "camera/<id>/password".
func CredentialName(id string) string { return "camera/" + id + "/password" }

// CredentialRef is the reference to camera id's password as written in
// the config: "vault:camera/<id>/password".
func CredentialRef(id string) string { return CredentialScheme + CredentialName(id) }

// VaultName is the vault name the camera's credential refers to ("" when
// the camera has no credential).
func (c Camera) VaultName() string {
	name, _ := strings.CutPrefix(c.Credential, CredentialScheme)
	return name
}

// InlinePassword reports whether the camera's source URL carries a
// password in its userinfo (rtsp://user:pass@host/…).
func (c Camera) InlinePassword() bool {
	_, _, err := SplitPassword(c.Source)
	return err == nil
}

// SplitPassword returns src without its password (the user name stays) and
// the password. A URL without a password is ErrNoPassword; errors never
// quote the URL.
func SplitPassword(src URL) (URL, string, error) {
	u, err := url.Parse(string(src))
	if err != nil {
		return src, "", fmt.Errorf("source is not a valid URL")
	}
	if u.User == nil {
		return src, "", ErrNoPassword
	}
	pw, ok := u.User.Password()
	if !ok {
		return src, "", ErrNoPassword
	}
	u.User = url.User(u.User.Username())
	return URL(u.String()), pw, nil
}

// WithPassword returns src with password pw in its userinfo (the user
// name of src stays, "" if it has none). It is the URL the source opens;
// it must never be stored, logged or shown.
func WithPassword(src URL, pw string) (URL, error) {
	u, err := url.Parse(string(src))
	if err != nil {
		return src, fmt.Errorf("source is not a valid URL")
	}
	user := ""
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, pw)
	return URL(u.String()), nil
}

// validateCredential checks cam.Credential: empty, or exactly the camera's
// own reference on an rtsp/rtsps source.
func validateCredential(path string, cam *Camera) *fieldError {
	if cam.Credential == "" {
		return nil
	}
	if want := CredentialRef(cam.ID); cam.Credential != want {
		// The value is not quoted: someone may have typed the password here.
		return ferr(path, "want %q (the camera's own item in the vault)", want)
	}
	u, err := url.Parse(string(cam.Source))
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") {
		return ferr(path, "only an rtsp:// or rtsps:// source has a password")
	}
	return nil
}
