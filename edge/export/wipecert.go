package export

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"

	"github.com/edgerec/edgerec/storage"
)

// WipeCertificate is the signed record of a decommission wipe (R25). It is
// written locally (`--cert OUT.json`) and its digest goes upstream as an
// event.
type WipeCertificate struct {
	Device string `json:"device"`
	// Authorization: "grant" (an approved decommission grant: admin and
	// approver) or "button" (wipe button held 10 s + an admin's
	// confirmation on the page).
	Trigger  string `json:"trigger"`
	Grant    string `json:"grant,omitempty"`
	Admin    string `json:"admin"`
	Approver string `json:"approver,omitempty"`

	Started          time.Time          `json:"started"`
	Finished         time.Time          `json:"finished"`
	RingID           string             `json:"ring_id,omitempty"`
	RingPath         string             `json:"ring_path"`
	RingIsDevice     bool               `json:"ring_is_device"`
	RingBytes        int64              `json:"ring_bytes"`
	Passes           int                `json:"passes"`
	Steps            []storage.WipeStep `json:"steps"`
	BytesOverwritten int64              `json:"bytes_overwritten"`
	BytesDiscarded   int64              `json:"bytes_discarded"`
	KeysDestroyed    int                `json:"keys_destroyed"`
	KeyProvider      string             `json:"key_provider,omitempty"` // where the root key was: tpm2, rpi-otp, file (issue 13)
	Complete         bool               `json:"complete"`               // no step failed

	// Audit head at the wipe: the sequence and hash of the audit record of
	// the wipe (the chain up to it is what the audit log proves).
	AuditSeq  uint64 `json:"audit_seq"`
	AuditHead string `json:"audit_head"`

	Issued    time.Time `json:"issued"`
	DeviceKey string    `json:"device_key"`
}

// NewWipeCertificate fills a certificate from a wipe report.
func NewWipeCertificate(device string, rep storage.WipeReport, issued time.Time) WipeCertificate {
	return WipeCertificate{
		Device: device, Started: rep.Started, Finished: rep.Finished,
		RingID: rep.RingID, RingPath: rep.RingPath, RingIsDevice: rep.RingIsDevice, RingBytes: rep.RingBytes,
		Passes: rep.Passes, Steps: rep.Steps, BytesOverwritten: rep.BytesOverwritten, BytesDiscarded: rep.BytesDiscarded,
		KeysDestroyed: rep.KeysDestroyed, KeyProvider: rep.KeyProvider, Complete: rep.OK(), Issued: issued.UTC(),
	}
}

// SignWipeCertificate fills in the device key and signs c.
func SignWipeCertificate(c WipeCertificate, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("export: sign wipe certificate: private key has %d bytes", len(key))
	}
	c.DeviceKey = EncodeKey(key.Public().(ed25519.PublicKey))
	return SignDoc(KindWipeCertificate, c, key)
}

// VerifyWipeCertificate checks a wipe certificate document.
func VerifyWipeCertificate(doc []byte, opts ...VerifyOption) (WipeCertificate, error) {
	d, err := OpenDoc(doc, opts...)
	if err != nil {
		return WipeCertificate{}, err
	}
	if d.Kind != KindWipeCertificate {
		return WipeCertificate{}, fmt.Errorf("%w: kind %q is not a wipe certificate", ErrBadDocument, d.Kind)
	}
	var c WipeCertificate
	if err := decodePayload(d, &c, func() string { return c.DeviceKey }); err != nil {
		return WipeCertificate{}, err
	}
	return c, nil
}

// Summary is a human description of the certificate.
func (c WipeCertificate) Summary() string {
	var b strings.Builder
	status := "COMPLETE"
	if !c.Complete {
		status = "INCOMPLETE (a step failed)"
	}
	fmt.Fprintf(&b, "wipe certificate: signature OK, wipe %s\n", status)
	fmt.Fprintf(&b, "  device    %s (key %s)\n", c.Device, keyIDOf(c.DeviceKey))
	auth := "grant " + c.Grant + ": admin " + c.Admin + ", approved by " + c.Approver
	if c.Trigger == "button" {
		auth = "wipe button + confirmation by admin " + c.Admin
	}
	fmt.Fprintf(&b, "  by        %s\n", auth)
	fmt.Fprintf(&b, "  time      %s .. %s\n", c.Started.Format(time.RFC3339), c.Finished.Format(time.RFC3339))
	fmt.Fprintf(&b, "  ring      %s (%d bytes), %d overwrite passes, %d bytes overwritten, %d discarded, %d keys destroyed\n",
		c.RingPath, c.RingBytes, c.Passes, c.BytesOverwritten, c.BytesDiscarded, c.KeysDestroyed)
	if c.KeyProvider != "" {
		fmt.Fprintf(&b, "  root key  %s\n", c.KeyProvider)
	}
	fmt.Fprintf(&b, "  audit     record #%d, head %s\n", c.AuditSeq, c.AuditHead)
	for _, s := range c.Steps {
		fmt.Fprintf(&b, "  step      %-12s %-13s %s %s\n", s.Name, s.Result, s.Method, s.Note)
	}
	return b.String()
}
