package export

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ManifestPath is where the manifest of the MP4 at mp4Path is written:
// NAME.mp4 → NAME.manifest.json.
func ManifestPath(mp4Path string) string {
	return strings.TrimSuffix(mp4Path, filepath.Ext(mp4Path)) + ".manifest.json"
}

// Verified is the result of VerifyFile.
type Verified struct {
	Kind      string // KindManifest or KindWipeCertificate
	Manifest  *Manifest
	Wipe      *WipeCertificate
	PublicKey ed25519.PublicKey
	VideoPath string // the MP4 checked against a manifest
}

// Summary says who approved what.
func (v Verified) Summary() string {
	if v.Manifest != nil {
		return v.Manifest.Summary() + "  file      " + v.VideoPath + "\n"
	}
	if v.Wipe != nil {
		return v.Wipe.Summary()
	}
	return ""
}

// VerifyFile is `edgerec verify FILE`: FILE is an export manifest (its MP4
// is File.Name in the same directory, else NAME.mp4 beside
// NAME.manifest.json), an exported MP4 (its manifest is
// ManifestPath(FILE)), or a wipe certificate. The kind is read from the
// document.
func VerifyFile(path string, opts ...VerifyOption) (Verified, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Verified{}, fmt.Errorf("export: verify: %w", err)
	}
	docPath, mp4Path := path, ""
	if isMP4(raw) {
		mp4Path, docPath = path, ManifestPath(path)
		if raw, err = os.ReadFile(docPath); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return Verified{}, fmt.Errorf("%w: %s is a video without its manifest %s beside it: an edgerec export is always a pair (copy both), or this video was not exported by edgerec", ErrBadDocument, filepath.Base(path), filepath.Base(docPath))
			}
			return Verified{}, fmt.Errorf("export: verify: manifest of %s: %w", filepath.Base(path), err)
		}
	} else if !looksJSON(raw) {
		// Issue 18: a random file used to answer with a JSON parse error.
		return Verified{}, fmt.Errorf("%w: %s is neither an MP4 nor a signed edgerec document (manifest or wipe certificate)", ErrBadDocument, filepath.Base(path))
	}
	d, err := OpenDoc(raw, opts...)
	if err != nil {
		if docPath != path {
			return Verified{}, fmt.Errorf("manifest %s: %w", filepath.Base(docPath), err)
		}
		return Verified{}, err
	}
	switch d.Kind {
	case KindWipeCertificate:
		c, err := VerifyWipeCertificate(raw, opts...)
		if err != nil {
			return Verified{}, err
		}
		return Verified{Kind: d.Kind, Wipe: &c, PublicKey: d.PublicKey}, nil
	case KindManifest:
		m, err := VerifyManifest(raw, opts...)
		if err != nil {
			return Verified{}, err
		}
		if mp4Path == "" {
			mp4Path = findVideo(docPath, m.File.Name)
		}
		f, err := os.Open(mp4Path)
		if err != nil {
			return Verified{}, fmt.Errorf("export: verify: the video of the manifest: %w", err)
		}
		defer f.Close()
		if _, err := Verify(raw, f, opts...); err != nil {
			return Verified{}, err
		}
		return Verified{Kind: d.Kind, Manifest: &m, PublicKey: d.PublicKey, VideoPath: mp4Path}, nil
	default:
		return Verified{}, fmt.Errorf("%w: unknown kind %q", ErrBadDocument, d.Kind)
	}
}

func findVideo(docPath, name string) string {
	dir := filepath.Dir(docPath)
	if name != "" && filepath.Base(name) == name {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			return p
		}
	}
	return strings.TrimSuffix(docPath, ".manifest.json") + ".mp4"
}

// isMP4 reports whether b starts with an ISO BMFF box that an MP4 file
// starts with (ftyp usually; styp, moov, free, skip, wide, mdat in the wild).
func isMP4(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	switch string(b[4:8]) {
	case "ftyp", "styp", "moov", "free", "skip", "wide", "mdat", "pdin":
		return true
	}
	return false
}

// looksJSON reports whether b's first non-space byte opens a JSON object.
func looksJSON(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}
