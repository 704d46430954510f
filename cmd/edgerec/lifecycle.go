package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/export/decommission"
	"github.com/edgerec/edgerec/edge/provision"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keys"
)

// readPassword takes the password from $EDGEREC_PASSWORD or the first line
// of standard input (never from a flag: flags show in ps).
func readPassword(e *env, stdin io.Reader) ([]byte, error) {
	if p := e.getenv("EDGEREC_PASSWORD"); p != "" {
		return []byte(p), nil
	}
	fmt.Fprint(e.stderr, "password: ")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return nil, errors.New("no password given (set EDGEREC_PASSWORD or type it on stdin)")
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}

// cliLogin opens the policy store of dir and authenticates user with the
// password from $EDGEREC_PASSWORD or stdin. The caller closes the store.
func cliLogin(ctx context.Context, e *env, dir, user string) (*policy.Store, policy.Principal, error) {
	pw, err := readPassword(e, os.Stdin)
	if err != nil {
		return nil, policy.Principal{}, err
	}
	vault, err := cliVault(ctx, dir)
	if err != nil {
		return nil, policy.Principal{}, err
	}
	ps, err := policy.Open(ctx, policy.Config{DataDir: dir}, policy.Deps{Sealer: vault})
	if errors.Is(err, policy.ErrLocked) {
		// Issue 18: say what to do, not "database in use".
		return nil, policy.Principal{}, fmt.Errorf("the recorder is running on %s and holds its databases: do this on the LAN page (Exports, Users, Review), or stop the recorder and run the command again: %w", dir, err)
	}
	if err != nil {
		return nil, policy.Principal{}, err
	}
	p, err := ps.Authenticate(ctx, user, pw)
	if err != nil {
		ps.Close()
		return nil, policy.Principal{}, fmt.Errorf("login as %q: %w", user, err)
	}
	if p.MustChange {
		ps.Close()
		return nil, policy.Principal{}, fmt.Errorf("login as %q: the password was set by an admin and is one-time: sign in on the LAN page and choose your own first", user)
	}
	return ps, p, nil
}

// cliAdmin is cliLogin for a command only an admin may run (action, the
// audit action): anyone else is refused, and the refusal audited.
func cliAdmin(ctx context.Context, e *env, dir, user, action string) (*policy.Store, policy.Principal, error) {
	ps, p, err := cliLogin(ctx, e, dir, user)
	if err != nil {
		return nil, p, err
	}
	if p.Role != perm.Admin {
		_, _ = ps.Audit(ctx, audit.Event{Actor: p.ID, Action: action, TargetKind: audit.KindDevice, Result: "refused", Detail: "not an admin"})
		ps.Close()
		return nil, p, fmt.Errorf("%s: %s is not an admin", strings.TrimPrefix(action, "device."), user)
	}
	return ps, p, nil
}

// cliVault opens the vault of sealed secrets (signing key, password
// hashes) of the data dir for a CLI command (issue 13).
func cliVault(ctx context.Context, dir string) (*keys.Vault, error) {
	v, err := storage.OpenVault(ctx, dir, dirKeys(dir, nil))
	if err != nil {
		return nil, fmt.Errorf("open the vault of %s: %w", dir, err)
	}
	return v, nil
}

// deviceConfig loads <dir>/edgerec.yaml.
func deviceConfig(dir string) (*config.Config, error) {
	return config.Load(filepath.Join(dir, "edgerec.yaml"))
}

func openStoreCLI(ctx context.Context, dir string) (*storage.Store, error) {
	st, err := storage.Open(ctx, dir, storage.Options{Keys: dirKeys(dir, nil)})
	if err != nil {
		if strings.Contains(err.Error(), "timeout") || errors.Is(err, storage.ErrBusy) {
			return nil, fmt.Errorf("%s is in use: the recorder is running (export from the LAN page, or stop it): %w", dir, err)
		}
		return nil, err
	}
	return st, nil
}

// cmdExport writes an MP4 of exactly the requested range under an export
// grant, with a signed manifest beside it (R17). The user authenticates;
// the grant must be theirs, approved, unexpired and cover the camera and
// range; the use is audited with the grant id.
func cmdExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export", "--data DIR --grant ID --camera CAM --from T --to T -o OUT.mp4 --user NAME")
	dir := fs.String("data", "", "data directory")
	grantID := fs.String("grant", "", "approved export grant id")
	cam := fs.String("camera", "", "camera id")
	fromS := fs.String("from", "", "start, RFC 3339")
	toS := fs.String("to", "", "end, RFC 3339")
	out := fs.String("o", "", "output MP4 path (the manifest is written beside it)")
	user := fs.String("user", "", "your user name (the grant holder); password from $EDGEREC_PASSWORD or stdin")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *grantID == "" || *cam == "" || *fromS == "" || *toS == "" || *out == "" || *user == "" {
		return usageError{"--data, --grant, --camera, --from, --to, -o and --user are required"}
	}
	from, err := time.Parse(time.RFC3339, *fromS)
	if err != nil {
		return usageError{"--from: want RFC 3339, e.g. 2026-11-27T10:00:00Z"}
	}
	to, err := time.Parse(time.RFC3339, *toS)
	if err != nil {
		return usageError{"--to: want RFC 3339, e.g. 2026-11-27T10:05:00Z"}
	}
	if !to.After(from) {
		return usageError{"--to must be after --from"}
	}
	abs, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	// The export leaves the device where the user asked, in the clear, and
	// its temporary file is written beside it: neither may land in the data
	// directory, where footage exists only sealed (issue 13, R17).
	if within(*dir, filepath.Dir(abs)) {
		return usageError{"-o must be outside the data directory " + *dir + ": footage is kept there only sealed; write the export to removable media or another directory"}
	}
	cfg, err := deviceConfig(*dir)
	if err != nil {
		return err
	}
	ps, p, err := cliLogin(ctx, e, *dir, *user)
	if err != nil {
		return err
	}
	defer ps.Close()
	st, err := openStoreCLI(ctx, *dir)
	if err != nil {
		return err
	}
	defer st.Close()
	vault := st.Vault()
	if vault == nil {
		return fmt.Errorf("%s has no vault key: start `edgerec run` once to create it", *dir)
	}
	id := provision.Identity{Dir: *dir, Config: func() *config.Config { return cfg }, Vault: vault}
	key, err := id.SigningKey()
	if err != nil {
		return err
	}
	defer clear(key)
	start := time.Now()
	m, err := export.SignedFile(ctx, st, ps, export.SignedRequest{
		Subject: id.Subject(*cam), Camera: *cam, From: from, To: to,
		GrantID: *grantID, Actor: p.ID, Key: key,
	}, abs, func(done, total time.Duration) { progressBar(e.stderr, done, total) })
	fmt.Fprintln(e.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "exported %s (%s of video in %s)\nmanifest %s\nverify with: edgerec verify %s\n",
		abs, m.End.Sub(m.Start).Round(time.Second), time.Since(start).Round(time.Millisecond), export.ManifestPath(abs), abs)
	return nil
}

func progressBar(w io.Writer, done, total time.Duration) {
	if total <= 0 {
		return
	}
	const width = 30
	n := int(float64(width) * float64(done) / float64(total))
	n = max(0, min(width, n))
	fmt.Fprintf(w, "\r[%s%s] %3.0f%%", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*float64(done)/float64(total))
}

// cmdVerify checks an export (MP4 or manifest) or a wipe certificate
// offline: signature, hash, and who approved what.
func cmdVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "verify", "FILE [--key BASE64 | --fleet URL-or-FILE]")
	keyS := fs.String("key", "", "pin the device public key (base64, as printed by provision)")
	fleetSrc := fs.String("fleet", "", "check against the key the fleet service pinned for the device (its URL, a saved /api/keys JSON, or its state file)")
	// The FILE may come before or after the flags.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		file = ""
	}
	if file == "" {
		return usageError{"give one FILE (an export .mp4, its .manifest.json, or a wipe certificate)"}
	}
	var opts []export.VerifyOption
	if *keyS != "" {
		pub, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*keyS))
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return usageError{"--key: want the device's base64 ed25519 public key (as printed by provision)"}
		}
		opts = append(opts, export.WithDeviceKey(pub))
	}
	if *fleetSrc != "" {
		if *keyS != "" {
			return usageError{"--key and --fleet are exclusive"}
		}
		o, err := fleetKeyOption(ctx, e, *fleetSrc, file)
		if err != nil {
			return fmt.Errorf("verification FAILED: %w", err)
		}
		opts = append(opts, o)
	}
	v, err := export.VerifyFile(file, opts...)
	if err != nil {
		return fmt.Errorf("verification FAILED: %w", err)
	}
	fmt.Fprintln(e.stdout, v.Summary())
	fmt.Fprintln(e.stdout, "verification OK")
	return nil
}

// cmdDecommission wipes the device (R25) under an approved decommission
// grant (an admin requested it, an approver approved it): root key first,
// then epoch keys, ring headers, optional overwrite passes, discard; then
// the device's other secrets (users, audit db, TLS and uplink keys, config)
// are removed, and a signed wipe certificate is written (and sent upstream
// when an uplink is configured). The device then refuses to record until
// provisioned again.
func cmdDecommission(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "decommission", "--data DIR --confirm DEVICE-ID --grant ID --user ADMIN [--cert OUT.json] [--passes N]")
	dir := fs.String("data", "", "data directory")
	confirm := fs.String("confirm", "", "the device id, typed again")
	grantID := fs.String("grant", "", "approved decommission grant id")
	user := fs.String("user", "", "admin user name (password from $EDGEREC_PASSWORD or stdin)")
	certOut := fs.String("cert", "", "wipe certificate path (default <data>/wipe-certificate.json)")
	passes := fs.Int("passes", 0, "full overwrite passes of the ring (0 = keys and headers only, then discard)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *confirm == "" || *grantID == "" || *user == "" {
		return usageError{"--data, --confirm, --grant and --user are required"}
	}
	if *passes < 0 || *passes > 7 {
		return usageError{"--passes: want 0..7"}
	}
	cfg, err := deviceConfig(*dir)
	if err != nil {
		return err
	}
	if *confirm != cfg.Device.ID {
		return fmt.Errorf("--confirm %q does not match this device's id; nothing changed", *confirm)
	}
	ps, p, err := cliLogin(ctx, e, *dir, *user)
	if err != nil {
		return err
	}
	closePolicy := sync.OnceFunc(func() { ps.Close() })
	defer closePolicy()
	if err := ps.UseGrant(ctx, *grantID, p.ID, grants.Decommission, "", time.Time{}, time.Time{}); err != nil {
		return fmt.Errorf("decommission grant %s: %w; nothing changed", *grantID, err)
	}
	vault, err := cliVault(ctx, *dir)
	if err != nil {
		return err
	}
	// The uplink's secrets are sealed under the root the wipe destroys:
	// open them first, so the certificate can still go upstream.
	var upCfg uplink.Config
	upErr := errors.New("no uplink")
	if cfg.Uplink != nil {
		upCfg, _, upErr = provision.Uplink(*dir, cfg.Device.ID, version, cfg.Uplink, vault)
		defer clear(upCfg.KeyPEM)
	}
	fmt.Fprintf(e.stderr, "wiping %s (device %s)…\n", *dir, cfg.Device.ID)
	d := decommission.New(decommission.Config{DataDir: *dir, DeviceID: cfg.Device.ID, Keys: dirKeys(*dir, nil), Passes: *passes,
		CertPath: *certOut, Secrets: decommission.DeviceSecrets()},
		decommission.Deps{Policy: ps,
			SigningKey: func() (ed25519.PrivateKey, error) { return devkey.Load(*dir, vault) },
			Stop:       func(context.Context) { closePolicy() },
			Send: func(ctx context.Context, doc []byte) string {
				if cfg.Uplink == nil {
					return ""
				}
				if upErr != nil {
					return decommission.SentNote(upErr, uplink.ErrNotDelivered)
				}
				return decommission.SentNote(uplink.SendOnce(ctx, upCfg, uplink.Event{Kind: uplink.EventWipeCertificate, Detail: doc}, 20*time.Second), uplink.ErrNotDelivered)
			},
			Progress: func(done, total int64) {
				if total > 0 {
					progressBar(e.stderr, time.Duration(done), time.Duration(total))
				}
			}})
	res, err := d.Run(ctx, *grantID, p.ID)
	fmt.Fprintln(e.stderr)
	// What is left of the device's identity goes once the certificate
	// was sent through the uplink files (issue 13: nothing survives).
	removed := d.RemoveSecrets()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "device %s wiped (%d steps, %d bytes overwritten, complete=%v); removed %s\ncertificate: %s%s\n",
		cfg.Device.ID, len(res.Report.Steps), res.Report.BytesOverwritten, res.Certificate.Complete, strings.Join(removed, ", "), res.Path, res.Sent)
	if !res.Certificate.Complete {
		return errors.New("some wipe steps failed (see the certificate)")
	}
	return nil
}

// within reports whether path is dir or inside it, after resolving
// symbolic links (a path that does not resolve is compared as given).
func within(dir, path string) bool {
	resolve := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return filepath.Clean(p)
		}
		if r, err := filepath.EvalSymlinks(a); err == nil {
			return r
		}
		return a
	}
	rel, err := filepath.Rel(resolve(dir), resolve(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
