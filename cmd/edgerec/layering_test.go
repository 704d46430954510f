package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/edgerec/edgerec"

// layerRule forbids packages under From from depending (directly or
// transitively) on any package whose path is, or is under, one of Forbid.
type layerRule struct {
	From   string
	Forbid []string
	Why    string
}

// parseLayering reads the rules from the README's ```layering block
// (design §3), one per line: "FROM imports no A, B, C". A path is under the
// module when the module has a package there (isModule), else it is a
// standard library path; an unknown path is an error, so a typo cannot
// silently allow everything.
func parseLayering(r io.Reader, isModule, isStd func(string) bool) ([]layerRule, error) {
	var rules []layerRule
	in, seen := false, false
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case !in && line == "```layering":
			in, seen = true, true
			continue
		case in && line == "```":
			in = false
			continue
		case !in || line == "" || strings.HasPrefix(line, "#"):
			continue
		}
		from, list, ok := strings.Cut(line, " imports no ")
		if !ok {
			return nil, fmt.Errorf("README line %d: %q: want \"FROM imports no A, B\"", n, line)
		}
		resolve := func(p string) (string, error) {
			switch {
			case isModule(p):
				return module + "/" + p, nil
			case isStd(p):
				return p, nil
			}
			return "", fmt.Errorf("README line %d: %q is neither a package of the module nor of the standard library", n, p)
		}
		from = strings.TrimSpace(from)
		rule := layerRule{Why: strings.Join(strings.Fields(line), " ")}
		var err error
		if rule.From, err = resolve(from); err != nil {
			return nil, err
		}
		for _, f := range strings.Split(list, ",") {
			p, err := resolve(strings.TrimSpace(f))
			if err != nil {
				return nil, err
			}
			rule.Forbid = append(rule.Forbid, p)
		}
		rules = append(rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !seen || in {
		return nil, fmt.Errorf("README: no closed ```layering block")
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("README: the ```layering block has no rule")
	}
	return rules, nil
}

type pkgDeps struct {
	ImportPath string
	Deps       []string
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// violations returns every forbidden dependency in pkgs.
func violations(rules []layerRule, pkgs []pkgDeps) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range rules {
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

func goList(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return out
}

func listDeps(t *testing.T) []pkgDeps {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(goList(t, "-json=ImportPath,Deps", module+"/..."))))
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

// readmeRules parses README design §3's layering block against the real
// module and standard library.
func readmeRules(t *testing.T, pkgs []pkgDeps) []layerRule {
	t.Helper()
	std := map[string]bool{}
	for _, p := range strings.Fields(string(goList(t, "std"))) {
		std[p] = true
	}
	isModule := func(p string) bool {
		for _, q := range pkgs {
			if under(q.ImportPath, module+"/"+p) {
				return true
			}
		}
		return false
	}
	isStd := func(p string) bool {
		for q := range std {
			if under(q, p) {
				return true
			}
		}
		return false
	}
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := parseLayering(f, isModule, isStd)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestLayering checks README design §3's layering block on the real import
// graph (transitive). It is the only layering test of the module.
func TestLayering(t *testing.T) {
	pkgs := listDeps(t)
	rules := readmeRules(t, pkgs)
	// The block must keep the rules the design names (D6 among them).
	want := map[string]string{
		module + "/hal":         module + "/storage",
		module + "/storage":     module + "/edge",
		module + "/policy":      "net/http",
		module + "/edge/uplink": module + "/edge/codec",
	}
	for from, forbid := range want {
		found := false
		for _, r := range rules {
			for _, f := range r.Forbid {
				found = found || r.From == from && f == forbid
			}
		}
		if !found {
			t.Errorf("README layering block lost the rule %s imports no %s", from, forbid)
		}
	}
	for _, v := range violations(rules, pkgs) {
		t.Error(v)
	}
}

// TestLayeringCatchesViolations makes sure the parser and the checker are
// not vacuous.
func TestLayeringCatchesViolations(t *testing.T) {
	isModule := func(p string) bool {
		top, _, _ := strings.Cut(p, "/")
		return top == "hal" || top == "edge" || top == "storage" || top == "policy"
	}
	isStd := func(p string) bool { return p == "net/http" }
	readme := "text\n```layering\nhal imports no edge, storage, policy\nstorage imports no edge, policy\n" +
		"policy imports no edge, hal, storage, net/http\nedge/uplink imports no edge/media, edge/codec, storage/ring\n```\nmore\n"
	rules, err := parseLayering(strings.NewReader(readme), isModule, isStd)
	if err != nil || len(rules) != 4 {
		t.Fatalf("parse: %d rules, %v", len(rules), err)
	}
	bad := []pkgDeps{
		{ImportPath: module + "/storage/ring", Deps: []string{"os", module + "/edge/media"}},
		{ImportPath: module + "/storage", Deps: []string{module + "/hal/blockdev"}}, // allowed
		{ImportPath: module + "/policy/rules", Deps: []string{"net/http"}},
		{ImportPath: module + "/hal/gpio", Deps: []string{module + "/policy"}},
		{ImportPath: module + "/edge/uplink", Deps: []string{module + "/edge/codec"}},
		{ImportPath: module + "/edge/web", Deps: []string{module + "/storage", module + "/policy"}},
		{ImportPath: module + "/storagex", Deps: []string{module + "/edge/media"}},
	}
	if got := violations(rules, bad); len(got) != 4 {
		t.Fatalf("want 4 violations, got %d: %v", len(got), got)
	}
	for _, broken := range []string{
		"no block here\n",
		"```layering\nhal imports no edge\n",                    // not closed
		"```layering\n```\n",                                    // empty
		"```layering\nhal forbids edge\n```\n",                  // bad line
		"```layering\nhal imports no edge/pipelin, nett\n```\n", // typo: unknown path
	} {
		if _, err := parseLayering(strings.NewReader(broken), isModule, func(string) bool { return false }); err == nil {
			t.Errorf("accepted %q", broken)
		}
	}
}
