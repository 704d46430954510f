package tpm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Errors returned by this package; match with errors.Is. None of them is
// ever answered by falling back to another key source.
var (
	// ErrNoTPM means no TPM could be opened (no device, no driver, no
	// permission, nothing listening on the socket).
	ErrNoTPM = errors.New("no TPM")
	// ErrLockout means the TPM is in dictionary-attack lockout.
	ErrLockout = errors.New("TPM is in dictionary-attack lockout")
	// ErrPCRMismatch means the PCRs the key is bound to do not hold the
	// values they held at provisioning (another boot chain or
	// configuration, or an extend since boot).
	ErrPCRMismatch = errors.New("PCR values differ from those the root key is bound to")
	// ErrNotFound means the descriptor names an object that is not in this
	// TPM: the key was destroyed, or the handle holds another object.
	// storage maps it to keys.ErrErased.
	ErrNotFound = errors.New("root key object not in the TPM")
	// ErrOtherTPM means the descriptor was made with another TPM (or before
	// this TPM's owner hierarchy was cleared).
	ErrOtherTPM = errors.New("descriptor belongs to another TPM")
	// ErrCorruptDescriptor means a descriptor does not parse.
	ErrCorruptDescriptor = errors.New("corrupt TPM root key descriptor")
	// ErrHandleInUse means Provision found an object that is not ours at
	// the persistent handle.
	ErrHandleInUse = errors.New("persistent handle in use")
	// ErrOwnerAuth means the TPM's owner hierarchy has an authorization
	// value; this package uses the default empty one.
	ErrOwnerAuth = errors.New("TPM owner hierarchy has a password")
)

// KeySize is the size of the root key.
const KeySize = 32

// DefaultHandle is the persistent handle used when Config.Handle is 0: in
// the owner range, outside the TCG-registered SRK (0x81000001) and EK
// (0x81010001) handles.
const DefaultHandle uint32 = 0x8100E0C0

const (
	persistentFirst uint32 = 0x81000000
	persistentLast  uint32 = 0x817FFFFF
)

func checkHandle(h uint32) error {
	if h < persistentFirst || h > persistentLast {
		return fmt.Errorf("handle %#08x is not an owner persistent handle (0x81000000–0x817FFFFF)", h)
	}
	return nil
}

// Config says how to provision the root key.
type Config struct {
	// Handle is the persistent handle (DefaultHandle if 0).
	Handle uint32
	// PCRs binds the key to the current values of these SHA-256 bank PCRs
	// (0..23); empty means no binding. Bind only PCRs whose values are
	// stable across reboots of a good device (e.g. 0, 2, 4, 7 with measured
	// boot); the key is refused (ErrPCRMismatch) when they change, so a
	// firmware update needs a re-provisioning.
	PCRs []int
}

// TPM performs root-key operations on the TPM that Opener reaches.
type TPM struct {
	open Opener
	log  *slog.Logger
}

// New returns a TPM using open. log receives one line per provisioning and
// destruction (never key material).
func New(open Opener, log *slog.Logger) *TPM {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TPM{open: open, log: log}
}

// session is one opened connection plus the transient objects to flush.
type session struct {
	t       *ctxTPM
	flushes []tpm2.TPMHandle
}

func (t *TPM) connect(ctx context.Context) (*session, error) {
	c, err := t.open(ctx)
	if err != nil {
		return nil, err
	}
	return &session{t: withContext(ctx, c)}, nil
}

// close flushes the transient objects this session created (the kernel
// resource manager would too, a raw device or a simulator would not) and
// closes the connection.
func (s *session) close() {
	for _, h := range slices.Backward(s.flushes) {
		_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(s.t)
	}
	_ = s.t.Close()
}

// tpmErr turns TPM response codes into this package's errors.
func tpmErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tpm2.TPMRCLockout):
		return fmt.Errorf("tpm: %s: %w (wait for the recovery time or reset it with the lockout authorization): %v", op, ErrLockout, err)
	case errors.Is(err, tpm2.TPMRCBadAuth), errors.Is(err, tpm2.TPMRCAuthFail):
		return fmt.Errorf("tpm: %s: authorization failed: %w", op, err)
	}
	return fmt.Errorf("tpm: %s: %w", op, err)
}

// srk re-derives the storage root key from the owner seed with the TCG ECC
// P-256 template. The name is computed here from the returned public area
// (not taken from the response), so a substituted public area cannot pass
// for ours.
func (s *session) srk() (tpm2.TPMHandle, tpm2.TPMTPublic, []byte, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(s.t)
	if errors.Is(err, tpm2.TPMRCBadAuth) || errors.Is(err, tpm2.TPMRCAuthFail) {
		return 0, tpm2.TPMTPublic{}, nil, fmt.Errorf("tpm: create SRK: %w: %v", ErrOwnerAuth, err)
	}
	if err != nil {
		return 0, tpm2.TPMTPublic{}, nil, tpmErr("create SRK", err)
	}
	s.flushes = append(s.flushes, rsp.ObjectHandle)
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return 0, tpm2.TPMTPublic{}, nil, fmt.Errorf("tpm: SRK public area: %w", err)
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return 0, tpm2.TPMTPublic{}, nil, fmt.Errorf("tpm: SRK name: %w", err)
	}
	return rsp.ObjectHandle, *pub, name.Buffer, nil
}

// readName returns the name of the object at h, or ErrNotFound.
func (s *session) readName(h uint32) ([]byte, error) {
	rsp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(h)}.Execute(s.t)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, fmt.Errorf("%w: nothing at handle %#08x", ErrNotFound, h)
	}
	if err != nil {
		return nil, tpmErr("read public", err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("tpm: public area at %#08x: %w", h, err)
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, fmt.Errorf("tpm: name at %#08x: %w", h, err)
	}
	return name.Buffer, nil
}

// checkTPM verifies that desc was made with this TPM and returns the SRK.
func (s *session) checkTPM(desc Descriptor) (tpm2.TPMHandle, tpm2.TPMTPublic, error) {
	if err := desc.validate(); err != nil {
		return 0, tpm2.TPMTPublic{}, err
	}
	h, pub, name, err := s.srk()
	if err != nil {
		return 0, tpm2.TPMTPublic{}, err
	}
	if !bytes.Equal(name, desc.SRKName) {
		return 0, tpm2.TPMTPublic{}, fmt.Errorf("%w: its storage root key is %x, this TPM's is %x (or this TPM was cleared)",
			ErrOtherTPM, desc.SRKName[2:10], name[2:10])
	}
	return h, pub, nil
}

func pcrSelection(pcrs []int) tpm2.TPMLPCRSelection {
	u := make([]uint, len(pcrs))
	for i, p := range pcrs {
		u[i] = uint(p)
	}
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash:      tpm2.TPMAlgSHA256,
		PCRSelect: tpm2.PCClientCompatible.PCRs(u...),
	}}}
}

// pcrDigest reads the selected PCRs and returns SHA-256 over their values in
// index order (the pcrDigest of TPM2_PolicyPCR).
func (s *session) pcrDigest(pcrs []int) ([]byte, error) {
	h := sha256.New()
	// TPM2_PCR_Read returns at most 8 digests per call; read in chunks.
	for chunk := range slices.Chunk(pcrs, 8) {
		rsp, err := tpm2.PCRRead{PCRSelectionIn: pcrSelection(chunk)}.Execute(s.t)
		if err != nil {
			return nil, tpmErr("read PCRs", err)
		}
		if len(rsp.PCRValues.Digests) != len(chunk) {
			return nil, fmt.Errorf("tpm: read PCRs %v: got %d values (is the SHA-256 bank active?)", chunk, len(rsp.PCRValues.Digests))
		}
		for _, v := range rsp.PCRValues.Digests {
			h.Write(v.Buffer)
		}
	}
	return h.Sum(nil), nil
}

func normalizePCRs(in []int) ([]int, error) {
	p := slices.Clone(in)
	slices.Sort(p)
	p = slices.Compact(p)
	for _, i := range p {
		if i < 0 || i > maxPCR {
			return nil, fmt.Errorf("tpm: PCR %d out of range 0..%d", i, maxPCR)
		}
	}
	return p, nil
}

// sealedTemplate is the public area of the sealed root key: a keyed-hash
// object with no sign/decrypt capability (a sealed data object), fixed to
// this TPM and its parent, exempt from dictionary-attack accounting (its
// auth value is empty, there is nothing to guess; DA accounting would only
// let any local process lock the recorder out). With a policy it can only
// be unsealed through that policy.
func sealedTemplate(policy []byte) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgKeyedHash,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:     true,
			FixedParent:  true,
			NoDA:         true,
			UserWithAuth: len(policy) == 0,
		},
		AuthPolicy: tpm2.TPM2BDigest{Buffer: policy},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
			Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
		}),
	}
}

// Provision creates the root key in the TPM: 32 random bytes sealed under
// the SRK, made persistent at cfg.Handle. If the handle already holds the
// object prev names (a repeated provisioning), prev is returned unchanged;
// any other object there is ErrHandleInUse, never overwritten. A TPM in
// lockout is refused (ErrLockout): something is guessing authorization
// values on this device.
func (t *TPM) Provision(ctx context.Context, cfg Config, prev *Descriptor) (Descriptor, error) {
	handle := cfg.Handle
	if handle == 0 {
		handle = DefaultHandle
	}
	if err := checkHandle(handle); err != nil {
		return Descriptor{}, fmt.Errorf("tpm: %w", err)
	}
	pcrs, err := normalizePCRs(cfg.PCRs)
	if err != nil {
		return Descriptor{}, err
	}
	s, err := t.connect(ctx)
	if err != nil {
		return Descriptor{}, err
	}
	defer s.close()

	info, err := s.info()
	if err != nil {
		return Descriptor{}, err
	}
	if info.InLockout {
		return Descriptor{}, fmt.Errorf("tpm: provision: %w (%d failed authorizations, recovery %ds)", ErrLockout, info.LockoutCounter, info.LockoutInterval)
	}
	srk, srkPub, srkName, err := s.srk()
	if err != nil {
		return Descriptor{}, err
	}
	existing, err := s.readName(handle)
	switch {
	case err == nil:
		if prev != nil && prev.Handle == handle && bytes.Equal(prev.Name, existing) && bytes.Equal(prev.SRKName, srkName) {
			if !slices.Equal(prev.PCRs, pcrs) {
				return Descriptor{}, fmt.Errorf("tpm: provision: the root key at %#08x is bound to PCRs %v, not %v; "+
					"changing the binding means a new key (destroy, re-provision, re-key the store)", handle, prev.PCRs, pcrs)
			}
			return *prev, nil
		}
		return Descriptor{}, fmt.Errorf("tpm: provision: %w: %#08x holds object %x that no descriptor of ours names; "+
			"pick another handle, or evict it (tpm2_evictcontrol -C o -c %#08x) if it is an orphan of an interrupted provisioning",
			ErrHandleInUse, handle, existing[2:10], handle)
	case !errors.Is(err, ErrNotFound):
		return Descriptor{}, err
	}

	var policy, digest []byte
	if len(pcrs) > 0 {
		if digest, err = s.pcrDigest(pcrs); err != nil {
			return Descriptor{}, err
		}
		calc, err := tpm2.NewPolicyCalculator(tpm2.TPMAlgSHA256)
		if err != nil {
			return Descriptor{}, fmt.Errorf("tpm: policy: %w", err)
		}
		pp := tpm2.PolicyPCR{Pcrs: pcrSelection(pcrs), PcrDigest: tpm2.TPM2BDigest{Buffer: digest}}
		if err := pp.Update(calc); err != nil {
			return Descriptor{}, fmt.Errorf("tpm: policy: %w", err)
		}
		policy = calc.Hash().Digest
	}

	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return Descriptor{}, fmt.Errorf("tpm: random: %w", err)
	}
	defer clear(key)
	// The key goes to the TPM encrypted (a session salted to the SRK whose
	// name we computed ourselves), not in clear on the bus.
	enc, closeEnc, err := tpm2.HMACSession(s.t, tpm2.TPMAlgSHA256, 16,
		tpm2.Auth(nil), tpm2.AESEncryption(128, tpm2.EncryptIn), tpm2.Salted(srk, srkPub))
	if err != nil {
		return Descriptor{}, tpmErr("HMAC session", err)
	}
	defer func() { _ = closeEnc() }()
	created, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: srk, Name: tpm2.TPM2BName{Buffer: srkName}, Auth: enc},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: key}),
		}},
		InPublic: tpm2.New2B(sealedTemplate(policy)),
	}.Execute(s.t)
	if err != nil {
		return Descriptor{}, tpmErr("create sealed object", err)
	}
	loaded, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: srk, Name: tpm2.TPM2BName{Buffer: srkName}, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    created.OutPrivate,
		InPublic:     created.OutPublic,
	}.Execute(s.t)
	if err != nil {
		return Descriptor{}, tpmErr("load sealed object", err)
	}
	s.flushes = append(s.flushes, loaded.ObjectHandle)
	pub, err := created.OutPublic.Contents()
	if err != nil {
		return Descriptor{}, fmt.Errorf("tpm: sealed public area: %w", err)
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return Descriptor{}, fmt.Errorf("tpm: sealed name: %w", err)
	}
	_, err = tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:     &tpm2.NamedHandle{Handle: loaded.ObjectHandle, Name: *name},
		PersistentHandle: tpm2.TPMHandle(handle),
	}.Execute(s.t)
	switch {
	case errors.Is(err, tpm2.TPMRCBadAuth) || errors.Is(err, tpm2.TPMRCAuthFail):
		return Descriptor{}, fmt.Errorf("tpm: make persistent: %w: %v", ErrOwnerAuth, err)
	case errors.Is(err, tpm2.TPMRCNVSpace):
		return Descriptor{}, fmt.Errorf("tpm: make persistent: no room for another persistent object: %w", err)
	case err != nil:
		return Descriptor{}, tpmErr("make persistent", err)
	}
	got, err := s.readName(handle)
	if err != nil {
		return Descriptor{}, err
	}
	if !bytes.Equal(got, name.Buffer) {
		return Descriptor{}, fmt.Errorf("tpm: provision: %#08x holds %x after EvictControl, want %x", handle, got, name.Buffer)
	}
	d := Descriptor{Handle: handle, Name: name.Buffer, SRKName: srkName, PCRs: pcrs, PCRDigest: digest}
	t.log.Info("tpm: root key provisioned", "handle", fmt.Sprintf("%#08x", handle), "pcrs", pcrs)
	return d, nil
}

// Load unseals the root key desc names. The key leaves the TPM encrypted
// under a session salted to the SRK (no clear key on the bus).
func (t *TPM) Load(ctx context.Context, desc Descriptor) ([]byte, error) {
	s, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	srk, srkPub, err := s.checkTPM(desc)
	if err != nil {
		return nil, err
	}
	got, err := s.readName(desc.Handle)
	if err != nil {
		return nil, fmt.Errorf("tpm: load: %w (destroyed, or never provisioned on this TPM)", err)
	}
	if !bytes.Equal(got, desc.Name) {
		return nil, fmt.Errorf("tpm: load: %w: %#08x holds another object (%x, want %x); the key this descriptor names was destroyed",
			ErrNotFound, desc.Handle, got[2:10], desc.Name[2:10])
	}
	item := tpm2.AuthHandle{Handle: tpm2.TPMHandle(desc.Handle), Name: tpm2.TPM2BName{Buffer: desc.Name}}
	opts := []tpm2.AuthOption{tpm2.AESEncryption(128, tpm2.EncryptOut), tpm2.Salted(srk, srkPub)}
	if len(desc.PCRs) > 0 {
		sess, closeSess, err := tpm2.PolicySession(s.t, tpm2.TPMAlgSHA256, 16, opts...)
		if err != nil {
			return nil, tpmErr("policy session", err)
		}
		defer func() { _ = closeSess() }()
		_, err = tpm2.PolicyPCR{
			PolicySession: sess.Handle(),
			Pcrs:          pcrSelection(desc.PCRs),
			PcrDigest:     tpm2.TPM2BDigest{Buffer: desc.PCRDigest},
		}.Execute(s.t)
		if errors.Is(err, tpm2.TPMRCValue) {
			return nil, fmt.Errorf("tpm: load: %w: PCRs %v (SHA-256)", ErrPCRMismatch, desc.PCRs)
		}
		if err != nil {
			return nil, tpmErr("policy PCR", err)
		}
		item.Auth = sess
	} else {
		sess, closeSess, err := tpm2.HMACSession(s.t, tpm2.TPMAlgSHA256, 16, append(opts, tpm2.Auth(nil))...)
		if err != nil {
			return nil, tpmErr("HMAC session", err)
		}
		defer func() { _ = closeSess() }()
		item.Auth = sess
	}
	rsp, err := tpm2.Unseal{ItemHandle: item}.Execute(s.t)
	switch {
	case errors.Is(err, tpm2.TPMRCPolicyFail), errors.Is(err, tpm2.TPMRCPCRChanged):
		return nil, fmt.Errorf("tpm: unseal: %w: %v", ErrPCRMismatch, err)
	case err != nil:
		return nil, tpmErr("unseal", err)
	}
	if len(rsp.OutData.Buffer) != KeySize {
		clear(rsp.OutData.Buffer)
		return nil, fmt.Errorf("tpm: unseal: %d bytes, want %d", len(rsp.OutData.Buffer), KeySize)
	}
	return rsp.OutData.Buffer, nil
}

// Destroy evicts the root key desc names from the TPM's non-volatile
// memory. Every copy of the descriptor, of the data directory and of the
// wrapped keys becomes useless. A key that is already gone (nothing, or
// another object, at the handle) is not an error and nothing is evicted;
// a descriptor of another TPM is ErrOtherTPM (this TPM cannot destroy that
// key).
func (t *TPM) Destroy(ctx context.Context, desc Descriptor) error {
	s, err := t.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	if _, _, err := s.checkTPM(desc); err != nil {
		return err
	}
	got, err := s.readName(desc.Handle)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(got, desc.Name) {
		t.log.Warn("tpm: root key already gone; another object at its handle is left alone",
			"handle", fmt.Sprintf("%#08x", desc.Handle))
		return nil
	}
	_, err = tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:     &tpm2.NamedHandle{Handle: tpm2.TPMHandle(desc.Handle), Name: tpm2.TPM2BName{Buffer: desc.Name}},
		PersistentHandle: tpm2.TPMHandle(desc.Handle),
	}.Execute(s.t)
	if errors.Is(err, tpm2.TPMRCBadAuth) || errors.Is(err, tpm2.TPMRCAuthFail) {
		return fmt.Errorf("tpm: evict: %w: %v", ErrOwnerAuth, err)
	}
	if err != nil {
		return tpmErr("evict", err)
	}
	if _, err := s.readName(desc.Handle); !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("tpm: evict: %#08x still present after EvictControl (%v)", desc.Handle, err)
	}
	t.log.Info("tpm: root key destroyed", "handle", fmt.Sprintf("%#08x", desc.Handle))
	return nil
}

// Root is a root key held in a TPM. It has the method set of
// storage/keys.RootProvider (this package does not import storage).
type Root struct {
	TPM  *TPM
	Desc Descriptor
}

// Load returns the root key.
func (r Root) Load(ctx context.Context) ([]byte, error) { return r.TPM.Load(ctx, r.Desc) }

// Destroy evicts the root key from the TPM.
func (r Root) Destroy(ctx context.Context) error { return r.TPM.Destroy(ctx, r.Desc) }

// Info is what health and `edgerec check` show about the TPM.
type Info struct {
	Manufacturer    string // TPM_PT_MANUFACTURER as ASCII, e.g. "IFX", "STM", "IBM"
	Vendor          string // vendor strings 1–4
	Firmware        string // firmware version 1 and 2, "major.minor.build.patch" for most vendors
	SpecRevision    string // e.g. "1.59"
	InLockout       bool
	LockoutCounter  uint32 // failed authorizations counted so far
	MaxAuthFail     uint32 // failures before lockout
	LockoutInterval uint32 // seconds to forget one failure
	LockoutRecovery uint32 // seconds after a lockoutAuth failure
	OwnerAuthSet    bool
}

// Info reads the TPM's identity and dictionary-attack state.
func (t *TPM) Info(ctx context.Context) (Info, error) {
	s, err := t.connect(ctx)
	if err != nil {
		return Info{}, err
	}
	defer s.close()
	return s.info()
}

func (s *session) props(first tpm2.TPMPT, count uint32) (map[tpm2.TPMPT]uint32, error) {
	out := map[tpm2.TPMPT]uint32{}
	for next := first; count > 0; {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(next), PropertyCount: count}.Execute(s.t)
		if err != nil {
			return nil, tpmErr("get capability", err)
		}
		ps, err := rsp.CapabilityData.Data.TPMProperties()
		if err != nil {
			return nil, fmt.Errorf("tpm: get capability: %w", err)
		}
		if len(ps.TPMProperty) == 0 {
			break
		}
		for _, p := range ps.TPMProperty {
			out[p.Property] = p.Value
		}
		last := ps.TPMProperty[len(ps.TPMProperty)-1].Property
		got := uint32(last-next) + 1
		if !rsp.MoreData || got >= count {
			break
		}
		count -= got
		next = last + 1
	}
	return out, nil
}

func ascii(vs ...uint32) string {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return strings.TrimRight(strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, string(b)), " ")
}

func (s *session) info() (Info, error) {
	fixed, err := s.props(tpm2.TPMPTFamilyIndicator, uint32(tpm2.TPMPTFirmwareVersion2-tpm2.TPMPTFamilyIndicator)+1)
	if err != nil {
		return Info{}, err
	}
	vars, err := s.props(tpm2.TPMPTPermanent, uint32(tpm2.TPMPTLockoutRecovery-tpm2.TPMPTPermanent)+1)
	if err != nil {
		return Info{}, err
	}
	fw1, fw2 := fixed[tpm2.TPMPTFirmwareVersion1], fixed[tpm2.TPMPTFirmwareVersion2]
	rev := fixed[tpm2.TPMPTRevision]
	perm := vars[tpm2.TPMPTPermanent]
	return Info{
		Manufacturer: ascii(fixed[tpm2.TPMPTManufacturer]),
		Vendor: ascii(fixed[tpm2.TPMPTVendorString1], fixed[tpm2.TPMPTVendorString2],
			fixed[tpm2.TPMPTVendorString3], fixed[tpm2.TPMPTVendorString4]),
		Firmware:        fmt.Sprintf("%d.%d.%d.%d", fw1>>16, fw1&0xffff, fw2>>16, fw2&0xffff),
		SpecRevision:    fmt.Sprintf("%d.%02d", rev/100, rev%100),
		OwnerAuthSet:    perm&(1<<0) != 0, // TPMA_PERMANENT.ownerAuthSet
		InLockout:       perm&(1<<9) != 0, // TPMA_PERMANENT.inLockout
		LockoutCounter:  vars[tpm2.TPMPTLockoutCounter],
		MaxAuthFail:     vars[tpm2.TPMPTMaxAuthFail],
		LockoutInterval: vars[tpm2.TPMPTLockoutInterval],
		LockoutRecovery: vars[tpm2.TPMPTLockoutRecovery],
	}, nil
}

var _ transport.TPM = (*ctxTPM)(nil)
