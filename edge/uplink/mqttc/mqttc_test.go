package mqttc

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBroker(t *testing.T) {
	for raw, want := range map[string]Broker{
		"mqtts://broker.example:8884": {"broker.example:8884", true},
		"ssl://10.0.0.1":              {"10.0.0.1:8883", true},
		"tls://[::1]:1":               {"[::1]:1", true},
	} {
		if b, err := ParseBroker(raw, false); err != nil || b != want {
			t.Fatalf("%s: %+v %v", raw, b, err)
		}
	}
	if _, err := ParseBroker("mqtt://h", false); !errors.Is(err, ErrPlaintext) {
		t.Fatalf("plaintext: %v", err)
	}
	if b, err := ParseBroker("mqtt://h", true); err != nil || b.TLS || b.Host != "h:1883" {
		t.Fatalf("allowed plaintext: %+v %v", b, err)
	}
	for _, bad := range []string{"", "h:1", "http://h", "mqtts://user:secret@h", "mqtts://h/path"} {
		_, err := ParseBroker(bad, true)
		if !errors.Is(err, ErrBrokerURL) || strings.Contains(err.Error(), "secret") {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

func TestClassify(t *testing.T) {
	for err, code := range map[error]string{
		&ConnackError{Code: 0x86}:                              "uplink.auth",
		errors.New("remote error: tls: certificate required"):  "uplink.tls.refused",
		errors.New("dial tcp 127.0.0.1:1: connection refused"): "uplink.down",
		ErrPlaintext: "uplink.config",
	} {
		if p := Classify(err); p.Code != code || p.Text == "" {
			t.Fatalf("%v: %+v", err, p)
		}
	}
}
