package web

import (
	"strings"
	"testing"
)

// FuzzParseLogin: the login parser never panics and accepts only bounded,
// UTF-8, control-free names.
func FuzzParseLogin(f *testing.F) {
	f.Add("application/json", []byte(`{"user":"admin","password":"secret-password"}`))
	f.Add("application/x-www-form-urlencoded", []byte("user=admin&password=x"))
	f.Add("application/json", []byte(`{"user":"a\u0000","password":"x"}`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		req, err := parseLogin(ct, body)
		if err != nil {
			return
		}
		if !validUserName(req.User) || req.Password == "" || len(req.Password) > maxPasswordLen {
			t.Fatalf("accepted %q", req.User)
		}
	})
}

// FuzzParseJSONBody: strict JSON decoding never panics and refuses what is
// not exactly one JSON object of known fields.
func FuzzParseJSONBody(f *testing.F) {
	f.Add("application/json", []byte(`{"action":"playback","purpose":"x","cameras":["cam1"],"from":"2026-01-01T00:00:00Z","to":"2026-01-01T01:00:00Z","validity_hours":1}`))
	f.Add("application/json", []byte(`{"action":1}`))
	f.Add("text/plain", []byte(`{}`))
	f.Add("application/json; charset=utf-8", []byte(`{} {}`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		var req footageRequest
		if err := parseJSONBody(ct, body, &req); err == nil && len(body) > maxJSONBody {
			t.Fatal("oversized body accepted")
		}
	})
}

// FuzzParseMasks: the mask editor's input is validated (R2): every accepted
// point lies in [0,1], polygons have 3..256 points, names are visible text.
func FuzzParseMasks(f *testing.F) {
	f.Add([]byte(`{"masks":[{"name":"window","style":"fill","polygon":[[0.1,0.1],[0.5,0.1],[0.5,0.5]]}]}`))
	f.Add([]byte(`{"masks":[{"name":"w","style":"pixelate","polygon":[[0,0],[2,0],[1,1]]}]}`))
	f.Add([]byte(`{"masks":[{"name":"\u202e","polygon":[[0,0],[1,0],[1,1]]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in masksInput
		if parseJSONBody("application/json", body, &in) != nil {
			return
		}
		ms, err := parseMasks(in)
		if err != nil {
			return
		}
		for _, m := range ms.Masks() {
			if len(m.Polygon) < 3 || len(m.Polygon) > 256 || checkName("n", m.Name, 64, true) != nil {
				t.Fatalf("accepted %+v", m)
			}
			for _, p := range m.Polygon {
				if !(p.X >= 0 && p.X <= 1 && p.Y >= 0 && p.Y <= 1) {
					t.Fatalf("accepted point %v", p)
				}
			}
		}
	})
}

// FuzzValidID: ids that reach lookups and paths never contain traversal or
// separators.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"cam1", "../x", "g-0123", "a/b", "..", ".hidden", "ca\u0430m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validID(s) && (strings.ContainsAny(s, "/\\\x00") || strings.Contains(s, "..") || strings.HasPrefix(s, ".")) {
			t.Fatalf("validID(%q)", s)
		}
	})
}
