package onvif

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // WS-UsernameToken PasswordDigest is defined on SHA-1 (OASIS UsernameToken Profile 1.0 §3.1)
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Namespaces of the messages used (ONVIF Core §5, SOAP 1.2, WSS 1.0).
const (
	nsSOAP   = "http://www.w3.org/2003/05/soap-envelope"
	nsDevice = "http://www.onvif.org/ver10/device/wsdl"
	nsMedia  = "http://www.onvif.org/ver10/media/wsdl"
	nsSchema = "http://www.onvif.org/ver10/schema"
	nsWSSE   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	// PasswordDigestType and Base64Type are the UsernameToken attribute values.
	PasswordDigestType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	Base64Type         = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// Errors. Every error of this package wraps one of them; their messages
// never carry a password.
var (
	// ErrUnauthorized: the camera refused the user name or password
	// (HTTP 401/403 or a ter:NotAuthorized fault).
	ErrUnauthorized = errors.New("onvif: the camera refused the user name or password")
	// ErrTimeout: the camera did not answer in time.
	ErrTimeout = errors.New("onvif: the camera did not answer in time")
	// ErrTooLarge: an answer exceeded the size limit.
	ErrTooLarge = errors.New("onvif: the camera's answer is too large")
	// ErrBadAnswer: an answer is not the SOAP message expected (malformed
	// XML, wrong element, missing or invalid field).
	ErrBadAnswer = errors.New("onvif: the camera's answer is malformed")
	// ErrFault: the camera answered with a SOAP fault other than
	// NotAuthorized.
	ErrFault = errors.New("onvif: the camera refused the request")
	// ErrUnreachable: no connection to the camera.
	ErrUnreachable = errors.New("onvif: the camera cannot be reached")
	// ErrInvalid: the caller's input is invalid (address, user name).
	ErrInvalid = errors.New("onvif: invalid input")
)

// Limits.
const (
	// MaxAnswer bounds one SOAP answer (a camera with many profiles answers
	// GetProfiles in ~20 KiB; 1 MiB is far above any real answer).
	MaxAnswer = 1 << 20
	// DefaultCallTimeout bounds one SOAP call when the context has no
	// earlier deadline.
	DefaultCallTimeout = 5 * time.Second
	maxField           = 1024 // any one text field of an answer
)

// Credentials are the camera account (WS-UsernameToken PasswordDigest).
// The zero value sends no security header.
type Credentials struct {
	Username string
	Password string
}

// String hides the password in logs and %v.
func (c Credentials) String() string { return "Credentials{" + c.Username + ", ***}" }

// LogValue hides the password from log/slog.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Digest computes the WS-UsernameToken PasswordDigest:
// Base64(SHA-1(nonce + created + password)).
func Digest(nonce []byte, created, password string) string {
	h := sha1.New() //nolint:gosec // mandated by the profile
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// securityHeader builds the wsse:Security header for one request; created
// is the camera's clock estimate (UTC).
func securityHeader(c Credentials, created time.Time) (string, error) {
	if c.Username == "" {
		return "", nil
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("onvif: nonce: %w", err)
	}
	ts := created.UTC().Format("2006-01-02T15:04:05.000Z")
	var b strings.Builder
	b.WriteString(`<wsse:Security s:mustUnderstand="1" xmlns:wsse="` + nsWSSE + `" xmlns:wsu="` + nsWSU + `"><wsse:UsernameToken><wsse:Username>`)
	xmlEscape(&b, c.Username)
	b.WriteString(`</wsse:Username><wsse:Password Type="` + PasswordDigestType + `">`)
	b.WriteString(Digest(nonce, ts, c.Password))
	b.WriteString(`</wsse:Password><wsse:Nonce EncodingType="` + Base64Type + `">`)
	b.WriteString(base64.StdEncoding.EncodeToString(nonce))
	b.WriteString(`</wsse:Nonce><wsu:Created>` + ts + `</wsu:Created></wsse:UsernameToken></wsse:Security>`)
	return b.String(), nil
}

func xmlEscape(b *strings.Builder, s string) {
	var buf bytes.Buffer
	_ = xml.EscapeText(&buf, []byte(s))
	b.Write(buf.Bytes())
}

// envelope wraps a body in a SOAP 1.2 envelope with an optional header.
func envelope(header, body string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="` + nsSOAP + `"><s:Header>` + header +
		`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
}

// call posts one SOAP request to url and decodes the Body's first element,
// which must be named want (local name), into out. The answer is bounded
// by MaxAnswer and the call by DefaultCallTimeout (or ctx's earlier deadline).
func call(ctx context.Context, hc *http.Client, url, action string, req []byte, want string, out any) error {
	op := strings.TrimSuffix(want, "Response") // the operation, for messages
	ctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, op, err)
	}
	hr.Header.Set("Content-Type", `application/soap+xml; charset=utf-8; action="`+action+`"`)
	resp, err := hc.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%s)", ErrTimeout, op)
		}
		if errors.Is(err, ErrNotLAN) {
			return fmt.Errorf("%w (%s)", netReasonErr(err), op)
		}
		return fmt.Errorf("%w: %s: %s", ErrUnreachable, op, netReason(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%s: answer not complete)", ErrTimeout, op)
		}
		return fmt.Errorf("%w: %s: reading the answer: %s", ErrUnreachable, op, netReason(err))
	}
	if len(body) > MaxAnswer {
		return fmt.Errorf("%w: the %s answer is over %d bytes", ErrTooLarge, op, MaxAnswer)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w (%s: HTTP %d)", ErrUnauthorized, op, resp.StatusCode)
	}
	err = decodeBody(body, want, out)
	if err == nil && resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s: HTTP %d", ErrBadAnswer, op, resp.StatusCode)
	}
	return err
}

// netReason is a short reason for a transport error without the URL (the
// URL is the caller's to show).
func netReason(err error) string {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return clipText(err.Error(), 200)
		}
		err = inner
	}
}

// netReasonErr is the innermost error that still wraps ErrNotLAN.
func netReasonErr(err error) error {
	for {
		inner := errors.Unwrap(err)
		if inner == nil || !errors.Is(inner, ErrNotLAN) {
			return err
		}
		err = inner
	}
}

// Fault is a SOAP 1.2 fault.
type Fault struct {
	Code    string // env:Sender, env:Receiver, …
	Subcode string // ter:NotAuthorized, ter:InvalidArgVal, …
	Reason  string
}

type soapFault struct {
	Code struct {
		Value   string `xml:"Value"`
		Subcode struct {
			Value   string `xml:"Value"`
			Subcode struct {
				Value string `xml:"Value"`
			} `xml:"Subcode"`
		} `xml:"Subcode"`
	} `xml:"Code"`
	Reason struct {
		Text []string `xml:"Text"`
	} `xml:"Reason"`
}

// decodeBody finds Envelope/Body and decodes its first child element into
// out if its local name is want; a Fault becomes an error. Pure; fuzzed.
func decodeBody(data []byte, want string, out any) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	depth := 0
	inEnv, inBody := false, false
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: %s: no SOAP body", ErrBadAnswer, want)
			}
			return fmt.Errorf("%w: %s: %v", ErrBadAnswer, want, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1:
				if t.Name.Local != "Envelope" {
					return fmt.Errorf("%w: %s: not a SOAP envelope (<%s>)", ErrBadAnswer, want, clipName(t.Name.Local))
				}
				inEnv = true
			case depth == 2 && inEnv && t.Name.Local == "Body":
				inBody = true
			case depth == 3 && inBody:
				if t.Name.Local == "Fault" {
					var f soapFault
					if err := d.DecodeElement(&f, &t); err != nil {
						return fmt.Errorf("%w: %s: fault: %v", ErrBadAnswer, want, err)
					}
					return faultError(want, f)
				}
				if t.Name.Local != want {
					return fmt.Errorf("%w: expected %s, got <%s>", ErrBadAnswer, want, clipName(t.Name.Local))
				}
				if err := d.DecodeElement(out, &t); err != nil {
					return fmt.Errorf("%w: %s: %v", ErrBadAnswer, want, err)
				}
				return nil
			}
		case xml.EndElement:
			depth--
			if depth == 1 && inBody {
				return fmt.Errorf("%w: %s: empty SOAP body", ErrBadAnswer, want)
			}
		}
	}
}

func faultError(want string, f soapFault) error {
	fl := Fault{Code: strings.TrimSpace(f.Code.Value), Subcode: strings.TrimSpace(f.Code.Subcode.Value)}
	if len(f.Reason.Text) > 0 {
		fl.Reason = clipText(strings.TrimSpace(f.Reason.Text[0]), 200)
	}
	sub := local(fl.Subcode) + " " + local(strings.TrimSpace(f.Code.Subcode.Subcode.Value))
	if strings.Contains(sub, "NotAuthorized") || strings.Contains(sub, "FailedAuthentication") {
		return fmt.Errorf("%w (%s)", ErrUnauthorized, strings.TrimSuffix(want, "Response"))
	}
	msg := fl.Subcode
	if msg == "" {
		msg = fl.Code
	}
	if fl.Reason != "" {
		msg += ": " + fl.Reason
	}
	return fmt.Errorf("%w: %s: %s", ErrFault, strings.TrimSuffix(want, "Response"), clipText(msg, 300))
}

// local strips a QName prefix.
func local(q string) string {
	if i := strings.LastIndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}

func clipName(s string) string { return clipText(s, 64) }

// clipText bounds text from a camera shown in an error or the page and
// drops control characters.
func clipText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
