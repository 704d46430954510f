package fleetd

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// AuditReport is what `edgerec fleet audit --device` prints: the received
// chain (the last KeepAudit records) and its verification.
type AuditReport struct {
	Device  string        `json:"device"`
	State   AuditState    `json:"state"`
	Missing []Range       `json:"missing"`
	Records []StoredAudit `json:"records"`
	// Links checks the kept records: each prev equal to the hash before.
	Links []Break `json:"link_errors"`
	OK    bool    `json:"ok"`
}

// BuildAuditReport verifies the kept records of one gateway.
func BuildAuditReport(g *Gateway, recs []StoredAudit) AuditReport {
	r := AuditReport{Device: g.Device, State: g.Audit, Missing: g.Audit.Missing(), Records: recs}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq == recs[i-1].Seq+1 && recs[i].Prev != recs[i-1].Hash {
			r.Links = append(r.Links, Break{Seq: recs[i].Seq, Want: recs[i-1].Hash, Got: recs[i].Prev, Why: "prev"})
		}
	}
	if n := len(recs); n > 0 && recs[n-1].Seq == g.Audit.HeadSeq && g.Audit.HeadHash != "" && recs[n-1].Hash != g.Audit.HeadHash {
		r.Links = append(r.Links, Break{Seq: recs[n-1].Seq, Want: g.Audit.HeadHash, Got: recs[n-1].Hash, Why: "head"})
	}
	r.OK = len(r.Links) == 0 && len(r.Missing) == 0 && len(g.Audit.Breaks) == 0
	return r
}

// KeyInfo is the pinned signing key of one gateway (`edgerec verify --fleet`).
type KeyInfo struct {
	Device      string `json:"device"`
	Key         string `json:"key"` // hex ed25519 public key, the first seen
	Fingerprint string `json:"fingerprint"`
	Seen        string `json:"seen,omitempty"` // the last key a beacon carried
	Changed     bool   `json:"changed"`
}

// Handler serves /metrics, the page (/), and read-only JSON under /api/.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = s.WriteMetrics(w, s.Snapshot())
	})
	mux.HandleFunc("GET /api/gateways", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Snapshot())
	})
	mux.HandleFunc("GET /api/gateways/{dev}", func(w http.ResponseWriter, r *http.Request) {
		g, ok := s.Gateway(r.PathValue("dev"))
		if !ok {
			http.Error(w, "unknown device", http.StatusNotFound)
			return
		}
		writeJSON(w, g)
	})
	mux.HandleFunc("GET /api/gateways/{dev}/audit", func(w http.ResponseWriter, r *http.Request) {
		g, ok := s.Gateway(r.PathValue("dev"))
		if !ok {
			http.Error(w, "unknown device", http.StatusNotFound)
			return
		}
		var recs []StoredAudit
		if s.store != nil {
			if err := s.Flush(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			var err error
			if recs, err = s.store.AuditLog(g.Device); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		writeJSON(w, BuildAuditReport(&g, recs))
	})
	mux.HandleFunc("GET /api/gateways/{dev}/key", func(w http.ResponseWriter, r *http.Request) {
		g, ok := s.Gateway(r.PathValue("dev"))
		if !ok || g.DeviceKey == "" {
			http.Error(w, "no key known for this device", http.StatusNotFound)
			return
		}
		writeJSON(w, KeyInfo{Device: g.Device, Key: g.DeviceKey, Fingerprint: KeyFingerprint(g.DeviceKey), Seen: g.SeenKey, Changed: g.KeyChanged})
	})
	mux.HandleFunc("GET /api/keys", func(w http.ResponseWriter, r *http.Request) {
		var out []KeyInfo
		for _, g := range s.Snapshot() {
			if g.DeviceKey != "" {
				out = append(out, KeyInfo{Device: g.Device, Key: g.DeviceKey, Fingerprint: KeyFingerprint(g.DeviceKey), Seen: g.SeenKey, Changed: g.KeyChanged})
			}
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("GET /{$}", s.page)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	_ = enc.Encode(v)
}

type pageRow struct {
	Device, Status, Firmware, KeyProv, Age string
	Problems                               []Problem
	Sev                                    int
	Cams                                   string
	Horizon                                string
	Audit                                  string
	Alerts                                 []string
}

var pageTmpl = template.Must(template.New("p").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta http-equiv="refresh" content="10"><title>edgerec fleet</title>
<style>
body{font:14px system-ui,sans-serif;margin:1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4}.s3{background:#fde8e8}.s2{background:#fff6dd}.p{font-weight:600}
small{color:#666}
</style></head><body>
<h1>edgerec fleet</h1>
<p>{{.N}} gateway(s), {{.Bad}} with problems — {{.Now}}. Read only; no video and no personal data reach this service (D6). <a href="/metrics">/metrics</a></p>
<table><thead><tr><th>Device</th><th>Problems</th><th>Status</th><th>Last beacon</th><th>Cameras rec/total</th><th>Horizon / floor</th><th>Audit</th><th>Alerts</th><th>Firmware</th><th>Keys</th></tr></thead><tbody>
{{range .Rows}}<tr class="s{{.Sev}}"><td>{{.Device}}</td><td class="p">{{range .Problems}}{{.Code}} {{end}}</td><td>{{.Status}}</td><td>{{.Age}}</td><td>{{.Cams}}</td><td>{{.Horizon}}</td><td>{{.Audit}}</td><td>{{range .Alerts}}{{.}} {{end}}</td><td>{{.Firmware}}</td><td>{{.KeyProv}}</td></tr>
{{end}}</tbody></table></body></html>
`))

func (s *Service) page(w http.ResponseWriter, r *http.Request) {
	gws := s.Snapshot()
	now := s.now()
	nowMs := now.UnixMilli()
	rows := make([]pageRow, 0, len(gws))
	bad := 0
	for i := range gws {
		g := &gws[i]
		p := g.Problems(nowMs, s.cfg.StaleAfter)
		row := pageRow{Device: g.Device, Status: g.Status, Firmware: g.Firmware, KeyProv: g.KeyProv, Problems: p, Alerts: g.Alerts}
		if len(p) > 0 {
			row.Sev = p[0].Sev
			bad++
		}
		if g.LastBeacon == 0 {
			row.Age = "never"
		} else {
			row.Age = (time.Duration(g.BeaconAge(nowMs)) * time.Second).String() + " ago"
		}
		rec := 0
		for _, c := range g.Cameras {
			if c.State == wire.CamRecording {
				rec++
			}
		}
		row.Cams = itoa(rec) + "/" + itoa(int(g.CamsTotal))
		row.Horizon = days(g.HorizonS) + " / " + days(g.FloorS)
		row.Audit = "seq " + utoa(g.Audit.High) + " / head " + utoa(g.Audit.HeadSeq)
		if n := g.Audit.GapRecords(); n > 0 {
			m := g.Audit.Missing()[0]
			row.Audit += ", missing " + utoa(m.First) + "–" + utoa(m.Last) + " (" + utoa(n) + ")"
		}
		if len(g.Audit.Breaks) > 0 {
			row.Audit += ", BROKEN at " + utoa(g.Audit.Breaks[0].Seq)
		}
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Sev != rows[j].Sev {
			return rows[i].Sev > rows[j].Sev
		}
		return len(rows[i].Problems) > len(rows[j].Problems)
	})
	if len(rows) > 2000 {
		rows = rows[:2000] // the page is for people; /metrics has all
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_ = pageTmpl.Execute(w, map[string]any{"N": len(gws), "Bad": bad, "Now": now.UTC().Format(time.RFC3339), "Rows": rows})
}
