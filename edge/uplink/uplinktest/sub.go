package uplinktest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/edgerec/edgerec/edge/uplink/mqttc"
)

// Message is one received PUBLISH.
type Message struct {
	Topic       string
	Payload     []byte
	Retain      bool
	ContentType string
	At          time.Time
}

// Sub is a subscriber that reconnects when the broker restarts; with a
// persistent session it also receives what was queued for it meanwhile.
type Sub struct {
	mu     sync.Mutex
	msgs   []Message
	notify chan struct{}
	up     chan struct{}
	upOnce sync.Once
}

// ClientOptions are mqttc options for a test client with the rig's valid
// client certificate.
func (b *Broker) ClientOptions(clientID string) mqttc.Options {
	return mqttc.Options{
		Broker: b.URL(), CAFile: b.Certs.CA, CertFile: b.Certs.ClientCert, KeyFile: b.Certs.ClientKey,
		ClientID: clientID, KeepAlive: 5 * time.Second, ConnectTimeout: 3 * time.Second,
	}
}

// Subscribe starts a subscriber on filter. persistent keeps its session
// across broker restarts. It is stopped at the end of the test.
func (b *Broker) Subscribe(t testing.TB, clientID, filter string, persistent bool) *Sub {
	t.Helper()
	s := &Sub{notify: make(chan struct{}, 1), up: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.loop(ctx, b, clientID, filter, persistent)
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-s.up:
	case <-time.After(10 * time.Second):
		t.Fatalf("test subscriber did not connect\n%s", b.Log())
	}
	return s
}

func (s *Sub) loop(ctx context.Context, b *Broker, clientID, filter string, persistent bool) {
	o := b.ClientOptions(clientID)
	if persistent {
		o.SessionExpiry = time.Hour
	}
	o.OnPublishReceived = func(pr paho.PublishReceived) (bool, error) {
		m := Message{Topic: pr.Packet.Topic, Payload: append([]byte(nil), pr.Packet.Payload...), Retain: pr.Packet.Retain, At: time.Now()}
		if pr.Packet.Properties != nil {
			m.ContentType = pr.Packet.Properties.ContentType
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
		return true, nil
	}
	for ctx.Err() == nil {
		cli, ca, err := mqttc.Connect(ctx, o)
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if ca == nil || !ca.SessionPresent {
			if _, err := cli.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
				_ = cli.Disconnect(&paho.Disconnect{})
				continue
			}
		}
		s.upOnce.Do(func() { close(s.up) })
		select {
		case <-ctx.Done():
			_ = cli.Disconnect(&paho.Disconnect{})
			return
		case <-cli.Done():
		}
	}
}

// Messages returns a copy of everything received so far.
func (s *Sub) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits until ok holds for the messages received so far, or fails the
// test after timeout.
func (s *Sub) Wait(t testing.TB, timeout time.Duration, what string, ok func([]Message) bool) []Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		ms := s.Messages()
		if ok(ms) {
			return ms
		}
		select {
		case <-s.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s; got %d messages (%s)", timeout, what, len(ms), summary(ms))
		}
	}
}

func summary(ms []Message) string {
	counts := map[string]int{}
	for _, m := range ms {
		counts[m.Topic[strings.LastIndex(m.Topic, "/")+1:]]++
	}
	return fmt.Sprint(counts)
}
