package fleetd

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// ErrNoKey is returned when the fleet knows no key for the device.
var ErrNoKey = errors.New("fleetd: the fleet has no key for this device")

func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}

func getJSON(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("fleetd: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fleetd: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w (%s)", ErrUnknownDevice, u)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fleetd: %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("fleetd: %s: %w", u, err)
	}
	return nil
}

// FetchAudit gets a gateway's audit report from a running service (src is
// its base URL) or from a state file no service holds.
func FetchAudit(ctx context.Context, src, dev string) (AuditReport, error) {
	if !wire.ValidDevice(dev) {
		return AuditReport{}, fmt.Errorf("fleetd: bad device id %q", dev)
	}
	if isURL(src) {
		var r AuditReport
		err := getJSON(ctx, strings.TrimRight(src, "/")+"/api/gateways/"+url.PathEscape(dev)+"/audit", &r)
		return r, err
	}
	st, err := OpenStore(src, 0, true)
	if err != nil {
		return AuditReport{}, err
	}
	defer st.Close()
	g, err := st.Gateway(dev)
	if err != nil {
		return AuditReport{}, err
	}
	recs, err := st.AuditLog(dev)
	if err != nil {
		return AuditReport{}, err
	}
	return BuildAuditReport(g, recs), nil
}

// PrintAudit writes a report for people.
func PrintAudit(w io.Writer, r AuditReport) {
	a := r.State
	fmt.Fprintf(w, "device %s: %d audit record(s) received (%d duplicate(s)); highest seq %d, beacon head %d (%s)\n",
		r.Device, a.Received, a.Dups, a.High, a.HeadSeq, short(a.HeadHash))
	if a.Base > 0 {
		fmt.Fprintf(w, "records up to seq %d predate this service (not expected)\n", a.Base)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tACTOR\tACTION\tOK\tHASH\tPREV\tLINK")
	for i, rec := range r.Records {
		link := "ok"
		if i == 0 {
			link = "-"
		} else if rec.Seq != r.Records[i-1].Seq+1 {
			link = fmt.Sprintf("GAP %d–%d", r.Records[i-1].Seq+1, rec.Seq-1)
		} else if rec.Prev != r.Records[i-1].Hash {
			link = "BROKEN"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%v\t%s\t%s\t%s\n", rec.Seq, time.UnixMilli(rec.Time).UTC().Format(time.DateTime),
			orDash(rec.Actor), rec.Action, rec.OK, short(rec.Hash), short(rec.Prev), link)
	}
	tw.Flush()
	for _, m := range r.Missing {
		fmt.Fprintf(w, "MISSING seq %d–%d (%d record(s))\n", m.First, m.Last, m.Size())
	}
	for _, b := range a.Breaks {
		fmt.Fprintf(w, "CHAIN BROKEN at seq %d (%s): expected %s, got %s\n", b.Seq, b.Why, short(b.Want), short(b.Got))
	}
	for _, b := range r.Links {
		fmt.Fprintf(w, "LINK ERROR at seq %d (%s): expected %s, got %s\n", b.Seq, b.Why, short(b.Want), short(b.Got))
	}
	if r.OK {
		fmt.Fprintln(w, "chain verification OK: contiguous and linked up to the beacon head")
	} else {
		fmt.Fprintln(w, "chain verification FAILED")
	}
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return orDash(h)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// LookupKey returns the key the fleet pinned for dev. src is a service URL,
// a JSON file (the output of /api/keys or /api/gateways/DEV/key), or a
// state file no service holds.
func LookupKey(ctx context.Context, src, dev string) (KeyInfo, error) {
	var infos []KeyInfo
	switch {
	case isURL(src):
		var k KeyInfo
		if err := getJSON(ctx, strings.TrimRight(src, "/")+"/api/gateways/"+url.PathEscape(dev)+"/key", &k); err != nil {
			if errors.Is(err, ErrUnknownDevice) {
				return KeyInfo{}, fmt.Errorf("%w %s", ErrNoKey, dev)
			}
			return KeyInfo{}, err
		}
		infos = []KeyInfo{k}
	default:
		raw, err := os.ReadFile(src)
		if err != nil {
			return KeyInfo{}, fmt.Errorf("fleetd: %w", err)
		}
		if t := strings.TrimSpace(string(raw)); strings.HasPrefix(t, "[") {
			err = json.Unmarshal(raw, &infos)
		} else if strings.HasPrefix(t, "{") {
			var k KeyInfo
			err = json.Unmarshal(raw, &k)
			infos = []KeyInfo{k}
		} else {
			st, oerr := OpenStore(src, 0, true)
			if oerr != nil {
				return KeyInfo{}, oerr
			}
			g, gerr := st.Gateway(dev)
			st.Close()
			if gerr != nil {
				return KeyInfo{}, fmt.Errorf("%w %s", ErrNoKey, dev)
			}
			infos = []KeyInfo{{Device: g.Device, Key: g.DeviceKey, Fingerprint: KeyFingerprint(g.DeviceKey), Seen: g.SeenKey, Changed: g.KeyChanged}}
		}
		if err != nil {
			return KeyInfo{}, fmt.Errorf("fleetd: %s: %w", src, err)
		}
	}
	for _, k := range infos {
		if k.Device == dev && k.Key != "" {
			return k, nil
		}
	}
	return KeyInfo{}, fmt.Errorf("%w %s", ErrNoKey, dev)
}

// PublicKey decodes k.Key.
func (k KeyInfo) PublicKey() (ed25519.PublicKey, error) {
	raw, err := hex.DecodeString(k.Key)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("fleetd: malformed key for %s", k.Device)
	}
	return ed25519.PublicKey(raw), nil
}
