package mqttc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/edge/redact"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// Errors.
var (
	ErrPlaintext = errors.New("mqtt: plain TCP broker URL needs allow_plaintext")
	ErrBrokerURL = errors.New("mqtt: bad broker URL")
	ErrTLSFiles  = errors.New("mqtt: TLS files")
	ErrRefused   = errors.New("mqtt: broker refused the connection")
)

// Options say how to connect.
type Options struct {
	Broker         string // mqtts://host[:8883] (also ssl://, tls://); mqtt:// or tcp:// only with AllowPlaintext
	AllowPlaintext bool
	CAFile         string // PEM; "" = system roots
	CertFile       string // PEM client certificate (mutual TLS); with KeyFile or KeyPEM
	KeyFile        string
	// KeyPEM is the client private key (PEM) held in memory, e.g. opened
	// from the device's vault; instead of KeyFile. Never logged.
	KeyPEM         []byte
	Username       string
	Password       string // never logged
	ClientID       string
	KeepAlive      time.Duration // default 30 s
	ConnectTimeout time.Duration // default 10 s
	PacketTimeout  time.Duration // PUBACK/SUBACK wait; default 15 s
	// SessionExpiry > 0 keeps the broker session (and queued QoS 1
	// messages) that long across disconnects (CleanStart false); the device
	// uses 0: its outbox is its session.
	SessionExpiry  time.Duration
	Will           *paho.WillMessage
	WillProperties *paho.WillProperties
	// OnPublishReceived handles incoming PUBLISH packets (the fleet view);
	// the device leaves it nil and subscribes to nothing (R21).
	OnPublishReceived func(paho.PublishReceived) (bool, error)
	OnClientError     func(error)
}

// Broker is a parsed broker URL.
type Broker struct {
	Host string // host:port
	TLS  bool
}

// ParseBroker checks a broker URL: mqtts/ssl/tls (default port 8883), or
// mqtt/tcp (default port 1883) only when allowPlaintext.
func ParseBroker(raw string, allowPlaintext bool) (Broker, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return Broker{}, fmt.Errorf("%w: %q (want mqtts://host:port)", ErrBrokerURL, redact.URL(raw))
	}
	if u.User != nil {
		return Broker{}, fmt.Errorf("%w: put credentials in username/password, not in the URL", ErrBrokerURL)
	}
	if u.Path != "" && u.Path != "/" {
		return Broker{}, fmt.Errorf("%w: %q has a path", ErrBrokerURL, raw)
	}
	var b Broker
	port := u.Port()
	switch strings.ToLower(u.Scheme) {
	case "mqtts", "ssl", "tls", "mqtt+ssl", "tcps":
		b.TLS = true
		if port == "" {
			port = "8883"
		}
	case "mqtt", "tcp":
		if !allowPlaintext {
			return Broker{}, fmt.Errorf("%w: %q", ErrPlaintext, raw)
		}
		if port == "" {
			port = "1883"
		}
	default:
		return Broker{}, fmt.Errorf("%w: scheme %q (want mqtts, or mqtt with allow_plaintext)", ErrBrokerURL, u.Scheme)
	}
	b.Host = net.JoinHostPort(u.Hostname(), port)
	return b, nil
}

// TLSConfig loads the CA and client key pair (read at every connection, so
// rotated files are picked up).
func TLSConfig(o Options, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: CA: %w", ErrTLSFiles, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: CA %s holds no PEM certificate", ErrTLSFiles, o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if o.KeyFile != "" && len(o.KeyPEM) > 0 {
		return nil, fmt.Errorf("%w: key file and key bytes are exclusive", ErrTLSFiles)
	}
	if (o.CertFile == "") != (o.KeyFile == "" && len(o.KeyPEM) == 0) {
		return nil, fmt.Errorf("%w: cert and key go together", ErrTLSFiles)
	}
	if o.CertFile != "" {
		var kp tls.Certificate
		var err error
		if len(o.KeyPEM) > 0 {
			var certPEM []byte
			if certPEM, err = os.ReadFile(o.CertFile); err == nil {
				kp, err = tls.X509KeyPair(certPEM, o.KeyPEM)
			}
		} else {
			kp, err = tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: client certificate: %w", ErrTLSFiles, err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// Connect dials the broker and completes the MQTT v5 CONNECT. The returned
// client is up; its Done channel closes when the connection is gone.
func Connect(ctx context.Context, o Options) (*paho.Client, *paho.Connack, error) {
	b, err := ParseBroker(o.Broker, o.AllowPlaintext)
	if err != nil {
		return nil, nil, err
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.PacketTimeout == 0 {
		o.PacketTimeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	var conn net.Conn
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	if b.TLS {
		host, _, _ := net.SplitHostPort(b.Host)
		tc, err := TLSConfig(o, host)
		if err != nil {
			return nil, nil, err
		}
		td := &tls.Dialer{NetDialer: d, Config: tc}
		conn, err = td.DialContext(ctx, "tcp", b.Host)
		if err != nil {
			return nil, nil, err
		}
	} else {
		conn, err = d.DialContext(ctx, "tcp", b.Host)
		if err != nil {
			return nil, nil, err
		}
	}
	cc := paho.ClientConfig{
		ClientID:      o.ClientID,
		Conn:          packets.NewThreadSafeConn(conn),
		PacketTimeout: o.PacketTimeout,
		OnClientError: func(err error) {
			if o.OnClientError != nil {
				o.OnClientError(err)
			}
		},
		OnServerDisconnect: func(d *paho.Disconnect) {
			if o.OnClientError != nil {
				o.OnClientError(fmt.Errorf("%w: server sent DISCONNECT (reason 0x%02x)", ErrRefused, d.ReasonCode))
			}
		},
	}
	if o.OnPublishReceived != nil {
		cc.OnPublishReceived = []func(paho.PublishReceived) (bool, error){o.OnPublishReceived}
	}
	cli := paho.NewClient(cc)
	expiry := uint32(o.SessionExpiry / time.Second)
	cp := &paho.Connect{
		ClientID:   o.ClientID,
		KeepAlive:  uint16(o.KeepAlive / time.Second),
		CleanStart: expiry == 0,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry},
	}
	if o.Username != "" {
		cp.UsernameFlag, cp.Username = true, o.Username
	}
	if o.Password != "" {
		cp.PasswordFlag, cp.Password = true, []byte(o.Password)
	}
	if o.Will != nil {
		cp.WillMessage = o.Will
		cp.WillProperties = o.WillProperties
		if cp.WillProperties == nil {
			cp.WillProperties = &paho.WillProperties{}
		}
	}
	ca, err := cli.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		if ca != nil && ca.ReasonCode >= 0x80 {
			return nil, ca, &ConnackError{Code: ca.ReasonCode}
		}
		return nil, ca, err
	}
	return cli, ca, nil
}

// ConnackError is a CONNACK with a failure reason code.
type ConnackError struct{ Code byte }

func (e *ConnackError) Error() string {
	return fmt.Sprintf("broker refused the connection: %s (0x%02x)", connackReason(e.Code), e.Code)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *ConnackError) Unwrap() error { return ErrRefused }

func connackReason(c byte) string {
	switch c {
	case 0x85:
		return "client identifier not valid"
	case 0x86:
		return "bad user name or password"
	case 0x87:
		return "not authorized"
	case 0x88:
		return "server unavailable"
	case 0x89:
		return "server busy"
	case 0x8A:
		return "banned"
	case 0x8C:
		return "bad authentication method"
	case 0x95:
		return "packet too large"
	case 0x9F:
		return "connection rate exceeded"
	}
	return "unspecified error"
}

// Problem is a classified connection failure.
type Problem struct {
	Code string // health alert code: uplink.tls.ca, uplink.tls.refused, uplink.tls.files, uplink.auth, uplink.config, uplink.down
	Text string // one line for people (no secrets)
}

// Classify turns a Connect error into a health alert code and text.
func Classify(err error) Problem {
	var (
		unknownCA x509.UnknownAuthorityError
		verify    *tls.CertificateVerificationError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		connack   *ConnackError
	)
	msg := err.Error()
	switch {
	case errors.Is(err, ErrPlaintext), errors.Is(err, ErrBrokerURL):
		return Problem{"uplink.config", "uplink: " + msg}
	case errors.Is(err, ErrTLSFiles):
		return Problem{"uplink.tls.files", "uplink: cannot load TLS files: " + msg}
	case errors.As(err, &unknownCA):
		return Problem{"uplink.tls.ca", "uplink: the broker's certificate is not signed by the configured CA (wrong CA?)"}
	case errors.As(err, &hostname):
		return Problem{"uplink.tls.ca", "uplink: the broker's certificate does not match its host name: " + hostname.Error()}
	case errors.As(err, &invalid):
		return Problem{"uplink.tls.ca", "uplink: the broker's certificate is not valid: " + invalid.Error()}
	case errors.As(err, &verify):
		return Problem{"uplink.tls.ca", "uplink: cannot verify the broker's certificate: " + verify.Error()}
	case strings.Contains(msg, "remote error: tls:"):
		return Problem{"uplink.tls.refused", "uplink: the broker refused our client certificate (" + msg[strings.Index(msg, "remote error: tls:")+len("remote error: "):] + ")"}
	case errors.As(err, &connack):
		return Problem{"uplink.auth", "uplink: " + connack.Error()}
	}
	return Problem{"uplink.down", "uplink: cannot reach the broker: " + msg}
}
