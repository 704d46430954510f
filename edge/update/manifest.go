package update

import (
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// Manifest is the part of a RAUC manifest (manifest.raucm) this device
// uses.
type Manifest struct {
	Compatible string
	Version    string
	Format     string // "plain" (the only one accepted)
	Images     map[string]Image
}

// Image is one [image.<slotclass>] section.
type Image struct {
	Filename string
	SHA256   string // lowercase hex
	Size     int64
}

// maxManifest bounds manifest.raucm.
const maxManifest = 64 << 10

// ParseManifest parses a RAUC manifest strictly: known sections and keys
// only (anything else names its line), printable values, every image with
// filename, sha256 and size.
func ParseManifest(data []byte) (Manifest, error) {
	if len(data) > maxManifest {
		return Manifest{}, fmt.Errorf("%w: manifest longer than %d bytes", ErrManifest, maxManifest)
	}
	m := Manifest{Format: "plain", Images: map[string]Image{}}
	section := ""
	var img *Image
	seen := map[string]bool{}
	finish := func() error {
		if img == nil {
			return nil
		}
		cls := strings.TrimPrefix(section, "image.")
		if img.Filename == "" || img.SHA256 == "" || img.Size <= 0 {
			return fmt.Errorf("%w: [%s] needs filename, sha256 and size", ErrManifest, section)
		}
		m.Images[cls] = *img
		img = nil
		return nil
	}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		for _, r := range line {
			if unicode.IsControl(r) || r == unicode.ReplacementChar {
				return Manifest{}, fmt.Errorf("%w: line %d: control or invalid character", ErrManifest, n)
			}
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return Manifest{}, fmt.Errorf("%w: line %d: bad section header", ErrManifest, n)
			}
			if err := finish(); err != nil {
				return Manifest{}, err
			}
			section = line[1 : len(line)-1]
			if seen[section] {
				return Manifest{}, fmt.Errorf("%w: line %d: section [%s] twice", ErrManifest, n, section)
			}
			seen[section] = true
			switch {
			case section == "update", section == "bundle", section == "hooks", section == "handler":
			case strings.HasPrefix(section, "image."):
				cls := strings.TrimPrefix(section, "image.")
				if !validName(cls) {
					return Manifest{}, fmt.Errorf("%w: line %d: bad slot class %q", ErrManifest, n, cls)
				}
				img = &Image{}
			default:
				return Manifest{}, fmt.Errorf("%w: line %d: unknown section [%s]", ErrManifest, n, section)
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Manifest{}, fmt.Errorf("%w: line %d: want key=value", ErrManifest, n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case section == "update" && k == "compatible":
			m.Compatible = v
		case section == "update" && k == "version":
			m.Version = v
		case section == "update" && (k == "description" || k == "build"):
		case section == "bundle" && k == "format":
			if v != "plain" {
				return Manifest{}, fmt.Errorf("%w: line %d: bundle format %q (this device takes plain)", ErrManifest, n, v)
			}
			m.Format = v
		case section == "hooks" || section == "handler":
			return Manifest{}, fmt.Errorf("%w: line %d: [%s] is not accepted (no code from the bundle runs outside the slot)", ErrManifest, n, section)
		case img != nil && k == "filename":
			if !validName(v) || path.Base(v) != v {
				return Manifest{}, fmt.Errorf("%w: line %d: bad filename %q", ErrManifest, n, v)
			}
			img.Filename = v
		case img != nil && k == "sha256":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != 32 || hex.EncodeToString(b) != v {
				return Manifest{}, fmt.Errorf("%w: line %d: sha256 must be 64 lowercase hex digits", ErrManifest, n)
			}
			img.SHA256 = v
		case img != nil && k == "size":
			s, err := strconv.ParseInt(v, 10, 64)
			if err != nil || s <= 0 {
				return Manifest{}, fmt.Errorf("%w: line %d: bad size %q", ErrManifest, n, v)
			}
			img.Size = s
		default:
			return Manifest{}, fmt.Errorf("%w: line %d: unknown key %q in [%s]", ErrManifest, n, k, section)
		}
	}
	if err := finish(); err != nil {
		return Manifest{}, err
	}
	if m.Compatible == "" || m.Version == "" {
		return Manifest{}, fmt.Errorf("%w: [update] needs compatible and version", ErrManifest)
	}
	if !validVersion(m.Version) {
		return Manifest{}, fmt.Errorf("%w: version %q (letters, digits, . _ + - only, at most 64)", ErrManifest, m.Version)
	}
	if len(m.Images) == 0 {
		return Manifest{}, fmt.Errorf("%w: no image", ErrManifest)
	}
	return m, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 128 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validVersion(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' || r == '+') {
			return false
		}
	}
	return s != ""
}
