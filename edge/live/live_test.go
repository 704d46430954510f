package live

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/pipeline/pipelinetest"
)

// fakeSource is camera cam1: a pipeline camera without masks whose
// access units the test sends on in (pipelinetest: the only way to
// publishable video); feeds are its hub readers.
type fakeSource struct {
	in    chan media.AccessUnit
	hub   *pipeline.Hub
	mu    sync.Mutex
	subs  int
	feeds []*pipeline.Reader
}

func newFakeSource(t *testing.T) *fakeSource {
	in := make(chan media.AccessUnit, 64)
	return &fakeSource{in: in, hub: pipelinetest.Passthrough(t, in)}
}

func (s *fakeSource) Subscribe(camera string) (Feed, error) {
	if camera != "cam1" {
		return nil, ErrUnknownCamera
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs++
	f := s.hub.Subscribe(64)
	s.feeds = append(s.feeds, f)
	return f, nil
}

// A tiny Annex-B "keyframe": SPS, PPS, IDR slice (content is opaque to
// the packetizer).
var au = []byte{0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33}

// R18/R20, one shared encoder: two viewers of one camera bind to ONE track
// fed by ONE hub reader; both receive RTP; the last hang-up closes the
// reader. Host candidates only (loopback allowed for the test).
func TestTwoViewersShareOneReader(t *testing.T) {
	src := newFakeSource(t)
	s, err := New(Config{AllowLoopback: true}, Deps{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { _ = s.Run(ctx) }()

	var got [2]atomic.Int64
	var sessions []string
	var pcs []*webrtc.PeerConnection
	for i := range 2 {
		se := webrtc.SettingEngine{}
		se.SetIncludeLoopbackCandidate(true)
		me := &webrtc.MediaEngine{}
		if err := me.RegisterDefaultCodecs(); err != nil {
			t.Fatal(err)
		}
		pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		pcs = append(pcs, pc)
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
		pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				got[i].Add(1)
			}
		})
		offer, err := pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		gathered := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(offer); err != nil {
			t.Fatal(err)
		}
		<-gathered
		ans, err := s.Offer(ctx, "cam1", Viewer{User: "viewer"}, pc.LocalDescription().SDP)
		if err != nil {
			t.Fatalf("offer %d: %v", i, err)
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, ans.Session)
	}
	src.mu.Lock()
	subs := src.subs
	feed := src.feeds[0]
	src.mu.Unlock()
	if subs != 1 {
		t.Fatalf("%d hub readers for two viewers, want 1", subs)
	}
	deadline := time.Now().Add(15 * time.Second)
	for pts := time.Duration(0); time.Now().Before(deadline) && (got[0].Load() < 5 || got[1].Load() < 5); pts += 66 * time.Millisecond {
		src.in <- media.AccessUnit{Data: au, PTS: pts, Key: true}
		time.Sleep(30 * time.Millisecond)
	}
	if got[0].Load() < 5 || got[1].Load() < 5 {
		t.Fatalf("RTP packets received: %d and %d", got[0].Load(), got[1].Load())
	}
	if st := s.Stats(); st.Sessions != 2 || st.Channels != 1 {
		t.Errorf("stats %+v, want 2 sessions on 1 channel", st)
	}
	if err := s.Close(sessions[0], "someone-else"); err == nil {
		t.Error("another viewer hung up a session")
	}
	for _, id := range sessions {
		if err := s.Close(id, "viewer"); err != nil {
			t.Error(err)
		}
	}
	select {
	case _, ok := <-feed.C():
		for ok {
			_, ok = <-feed.C()
		}
	case <-time.After(2 * time.Second):
		t.Error("hub reader not closed after the last viewer")
	}
	if _, err := s.Offer(ctx, "nope", Viewer{User: "viewer"}, pcs[0].LocalDescription().SDP); err == nil {
		t.Error("offer for an unknown camera accepted")
	}
}

func TestCheckOffer(t *testing.T) {
	for _, bad := range []string{"", "garbage", "v=0\r\n", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
		"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n"} {
		if CheckOffer(bad) == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if err := CheckOffer("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=recvonly\r\n"); err != nil {
		t.Error(err)
	}
}

func FuzzCheckOffer(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=recvonly\r\n")
	f.Add("v=0\r\nm=video 0 x\r\n")
	f.Fuzz(func(t *testing.T, s string) { _ = CheckOffer(s) })
}

// Issue 12 (R18): parallel offers of one user cannot exceed MaxPerViewer;
// End closes a session once and reports it; Sessions lists the viewer's
// login-session handle.
func TestPerViewerLimitAndEnd(t *testing.T) {
	src := newFakeSource(t)
	s, err := New(Config{AllowLoopback: true, MaxPerViewer: 2}, Deps{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Offer(ctx, "cam1", Viewer{User: "u1", Session: "s1"}, offer.SDP)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrViewerLimit):
				limited.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 2 || limited.Load() != 4 {
		t.Fatalf("%d accepted, %d refused; want 2 and 4", ok.Load(), limited.Load())
	}
	other, err := s.Offer(ctx, "cam1", Viewer{User: "u2", Session: "s2"}, offer.SDP)
	if err != nil {
		t.Fatalf("another user refused: %v", err)
	}
	list := s.Sessions()
	if len(list) != 3 {
		t.Fatalf("sessions %+v", list)
	}
	for _, ls := range list {
		if ls.ID == other.Session && (ls.Viewer != Viewer{User: "u2", Session: "s2"} || ls.Started.IsZero()) {
			t.Fatalf("session info %+v", ls)
		}
	}
	if !s.End(other.Session, "test") || s.End(other.Session, "again") {
		t.Fatal("End must report the first closing only")
	}
	if n := s.Stats().Sessions; n != 2 {
		t.Fatalf("%d sessions after End, want 2", n)
	}
}
