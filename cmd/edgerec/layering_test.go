package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/edgerec/edgerec"

// layerRule forbids packages under From from depending (directly or
// transitively) on any package whose path starts with one of Forbid.
type layerRule struct {
	From   string
	Forbid []string
	Why    string
}

// layerRules are README design §3's layering, plus D6 (metadata-only uplink).
var layerRules = []layerRule{
	{From: module + "/hal", Forbid: []string{module + "/edge", module + "/storage", module + "/policy"}, Why: "hal imports no edge, storage or policy"},
	{From: module + "/storage", Forbid: []string{module + "/edge", module + "/policy"}, Why: "storage imports no edge or policy"},
	{From: module + "/policy", Forbid: []string{module + "/edge", module + "/hal", module + "/storage", "net/http"}, Why: "policy imports no edge, hal, storage or net/http"},
	{From: module + "/edge/uplink", Forbid: []string{module + "/edge/media", module + "/edge/codec", module + "/edge/source", module + "/storage/ring", module + "/storage/seal"}, Why: "uplink is metadata-only by construction (D6)"},
}

type pkgDeps struct {
	ImportPath string
	Deps       []string
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// violations returns every forbidden dependency in pkgs.
func violations(pkgs []pkgDeps) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range layerRules {
			if !under(p.ImportPath, r.From) {
				continue
			}
			for _, d := range p.Deps {
				for _, f := range r.Forbid {
					if under(d, f) {
						out = append(out, p.ImportPath+" -> "+d+": "+r.Why)
					}
				}
			}
		}
	}
	return out
}

func listDeps(t *testing.T) []pkgDeps {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Deps", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkgDeps
	for {
		var p pkgDeps
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// TestLayering checks README design §3 on the real import graph (transitive).
func TestLayering(t *testing.T) {
	for _, v := range violations(listDeps(t)) {
		t.Error(v)
	}
}

// TestLayeringCatchesViolations makes sure the checker is not vacuous.
func TestLayeringCatchesViolations(t *testing.T) {
	bad := []pkgDeps{
		{ImportPath: module + "/storage/ring", Deps: []string{"os", module + "/edge/media"}},
		{ImportPath: module + "/policy/rules", Deps: []string{"net/http"}},
		{ImportPath: module + "/hal/gpio", Deps: []string{module + "/policy"}},
		{ImportPath: module + "/edge/uplink", Deps: []string{module + "/edge/codec"}},
		{ImportPath: module + "/edge/web", Deps: []string{module + "/storage", module + "/policy"}},
		{ImportPath: module + "/storagex", Deps: []string{module + "/edge/media"}},
	}
	got := violations(bad)
	if len(got) != 4 {
		t.Fatalf("want 4 violations, got %d: %v", len(got), got)
	}
}
