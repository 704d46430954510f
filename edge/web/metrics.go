package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the server's own Prometheus registry (no global registry).
// Camera series carry camera ids only, never names (R19).
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	loginBursts prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgerec_web_requests_total",
			Help: "LAN page requests by route and status class."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "edgerec_web_request_seconds",
			Help: "LAN page request latency by route.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}, []string{"route"}),
		loginBursts: prometheus.NewCounter(prometheus.CounterOpts{Name: "edgerec_web_login_bursts_total",
			Help: "Bursts of failed logins (R22)."}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.loginBursts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&healthCollector{s: s})
	return m
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, strconv.Itoa(code/100)+"xx").Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// healthCollector exports the health snapshot and live-view counts at
// scrape time.
type healthCollector struct{ s *Server }

var (
	descFPS      = prometheus.NewDesc("edgerec_camera_fps", "Frames per second of a camera.", []string{"camera"}, nil)
	descKbps     = prometheus.NewDesc("edgerec_camera_kbps", "Bitrate of a camera in kbit/s.", []string{"camera"}, nil)
	descUp       = prometheus.NewDesc("edgerec_camera_recording", "1 when a camera is recording.", []string{"camera"}, nil)
	descDropped  = prometheus.NewDesc("edgerec_camera_dropped_frames_total", "Frames a camera lost before recording (source behind, decode failures, recorder behind).", []string{"camera"}, nil)
	descGaps     = prometheus.NewDesc("edgerec_camera_gaps_total", "Interruptions of a camera's stream since start.", []string{"camera"}, nil)
	descRing     = prometheus.NewDesc("edgerec_ring_used_bytes", "Bytes used in the ring.", nil, nil)
	descHorizon  = prometheus.NewDesc("edgerec_retention_horizon_seconds", "Retention horizon at observed bitrates (R7).", nil, nil)
	descFloor    = prometheus.NewDesc("edgerec_retention_floor_seconds", "Retention floor from policy (R7).", nil, nil)
	descWarnings = prometheus.NewDesc("edgerec_warnings", "Active health warnings.", nil, nil)
	descViewers  = prometheus.NewDesc("edgerec_live_sessions", "Live-view WebRTC sessions.", nil, nil)
	descAudit    = prometheus.NewDesc("edgerec_audit_head_seq", "Audit log head sequence number (R16).", nil, nil)
)

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFPS, descKbps, descUp, descDropped, descGaps, descRing, descHorizon, descFloor, descWarnings, descViewers, descAudit} {
		ch <- d
	}
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.s.deps.Health.Snapshot()
	for _, cam := range snap.Cameras {
		ch <- prometheus.MustNewConstMetric(descFPS, prometheus.GaugeValue, cam.FPS, cam.ID)
		ch <- prometheus.MustNewConstMetric(descKbps, prometheus.GaugeValue, cam.Kbps, cam.ID)
		up := 0.0
		if cam.State == "recording" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, cam.ID)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(cam.Dropped), cam.ID)
		ch <- prometheus.MustNewConstMetric(descGaps, prometheus.CounterValue, float64(cam.Gaps), cam.ID)
	}
	ch <- prometheus.MustNewConstMetric(descRing, prometheus.GaugeValue, float64(snap.Storage.UsedBytes))
	ch <- prometheus.MustNewConstMetric(descHorizon, prometheus.GaugeValue, snap.Storage.Horizon.Seconds())
	floor := snap.Storage.HorizonFloor
	if c.s.cfg.RetentionFloor > 0 {
		floor = c.s.cfg.RetentionFloor
	}
	ch <- prometheus.MustNewConstMetric(descFloor, prometheus.GaugeValue, floor.Seconds())
	ch <- prometheus.MustNewConstMetric(descWarnings, prometheus.GaugeValue, float64(len(snap.Warnings)))
	if c.s.deps.Live != nil {
		ch <- prometheus.MustNewConstMetric(descViewers, prometheus.GaugeValue, float64(c.s.deps.Live.Stats().Sessions))
	}
	head, _ := c.s.pol.Head()
	ch <- prometheus.MustNewConstMetric(descAudit, prometheus.GaugeValue, float64(head))
}

// metricsTokenOK reports whether r carries the configured metrics token.
func (s *Server) metricsTokenOK(r *http.Request) bool {
	if s.metricsToken == nil {
		return false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || len(tok) > 256 {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], s.metricsToken) == 1
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ principal) {
	promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}
