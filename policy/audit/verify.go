package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// VerifyOptions selects where verification starts.
type VerifyOptions struct {
	// FromCheckpoint: start at the signed checkpoint with this sequence
	// number instead of genesis (0 = genesis). Records before it are not
	// read; the checkpoint's signature and hash anchor the rest.
	FromCheckpoint uint64
}

// Report is the result of a verification.
type Report struct {
	From        uint64   // first sequence number checked
	Records     uint64   // records checked
	Checkpoints int      // signed checkpoints checked
	HeadSeq     uint64   // last good record
	HeadHash    [32]byte // its hash
	// FirstBad is the first sequence number at which the log is not what
	// was written (0 when OK). Reason says why.
	FirstBad uint64
	Reason   string
}

// OK reports whether the log verified.
func (r Report) OK() bool { return r.FirstBad == 0 && r.Reason == "" }

// String is one line for `edgerec check`.
func (r Report) String() string {
	if r.OK() {
		return fmt.Sprintf("audit: ok: %d records from seq %d, %d signed checkpoints, head seq %d hash %s",
			r.Records, r.From, r.Checkpoints, r.HeadSeq, hex.EncodeToString(r.HeadHash[:]))
	}
	return fmt.Sprintf("audit: FAILED at seq %d: %s (%d records verified before it)", r.FirstBad, r.Reason, r.Records)
}

// Verify checks the log in db (opened read-only or not) against pub:
// every checkpoint signature and the head seal; then, from genesis or from a
// checkpoint, each record's key, sequence number, canonical encoding, hash,
// link to its predecessor and agreement with checkpoints; finally that the
// chain ends exactly at the signed head and at or after the last checkpoint
// (truncation). The error is for failures to read (context, missing
// buckets); tampering is reported in the Report.
func Verify(ctx context.Context, db *bolt.DB, pub ed25519.PublicKey, o VerifyOptions) (Report, error) {
	var rep Report
	if len(pub) != ed25519.PublicKeySize {
		return rep, fmt.Errorf("audit: verify: public key: want %d bytes, have %d", ed25519.PublicKeySize, len(pub))
	}
	err := db.View(func(tx *bolt.Tx) error {
		recs, ckb, meta := tx.Bucket(bucketRecords), tx.Bucket(bucketCheckpoints), tx.Bucket(bucketMeta)
		if recs == nil || ckb == nil || meta == nil {
			return fmt.Errorf("%w: audit buckets missing", ErrCorrupt)
		}
		rep = verifyTx(ctx, recs, ckb, meta, pub, o)
		return ctx.Err()
	})
	return rep, err
}

func verifyTx(ctx context.Context, recs, ckb, meta *bolt.Bucket, pub ed25519.PublicKey, o VerifyOptions) Report {
	var rep Report
	fail := func(seq uint64, format string, a ...any) Report {
		rep.FirstBad, rep.Reason = seq, fmt.Sprintf(format, a...)
		return rep
	}
	// Checkpoints: all signatures, whatever the start.
	cks := make(map[uint64]Seal)
	var lastCk Seal
	c := ckb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var s Seal
		rest, err := s.UnmarshalMsg(v)
		seq := uint64(0)
		if len(k) == 8 {
			seq = binary.BigEndian.Uint64(k)
		}
		if err != nil || len(rest) != 0 || seq == 0 || s.Seq != seq {
			return fail(max(seq, 1), "checkpoint at seq %d is malformed", seq)
		}
		if !ed25519.Verify(pub, sealMessage(domainCheckpoint, &s), s.Sig) {
			return fail(seq, "checkpoint at seq %d: bad signature", seq)
		}
		cks[seq] = s
		lastCk = s
	}
	rep.Checkpoints = len(cks)
	hv := meta.Get(keyHead)
	var head Seal
	if hv != nil {
		rest, err := head.UnmarshalMsg(hv)
		if err != nil || len(rest) != 0 {
			return fail(1, "head seal is malformed")
		}
		if !ed25519.Verify(pub, sealMessage(domainHead, &head), head.Sig) {
			return fail(max(head.Seq, 1), "head seal: bad signature")
		}
	}

	start := uint64(1)
	var prev [32]byte
	if o.FromCheckpoint != 0 {
		ck, ok := cks[o.FromCheckpoint]
		if !ok {
			return fail(o.FromCheckpoint, "no signed checkpoint at seq %d to start from", o.FromCheckpoint)
		}
		start = ck.Seq
		v := recs.Get(seqKey(start))
		if v == nil {
			return fail(start, "record %d (the checkpoint) is missing", start)
		}
		r, h, err := DecodeStored(v)
		if err != nil {
			return fail(start, "record %d: %v", start, err)
		}
		if r.Seq != start || h != ck.Hash {
			return fail(start, "record %d does not match its signed checkpoint", start)
		}
		prev = r.Prev // the checkpoint vouches for it through the hash
	}
	rep.From = start
	next := start
	rc := recs.Cursor()
	for k, v := rc.Seek(seqKey(start)); k != nil; k, v = rc.Next() {
		if next%4096 == 0 && ctx.Err() != nil {
			return fail(next, "interrupted: %v", ctx.Err())
		}
		if len(k) != 8 {
			return fail(next, "malformed key %x", k)
		}
		ks := binary.BigEndian.Uint64(k)
		if ks != next {
			return fail(next, "record %d is missing (next key is %d)", next, ks)
		}
		r, h, err := DecodeStored(v)
		if err != nil {
			return fail(next, "record %d: %v", next, err)
		}
		if r.Seq != next {
			return fail(next, "record at %d carries seq %d (moved or reordered)", next, r.Seq)
		}
		if r.Prev != prev {
			return fail(next, "record %d does not link to record %d", next, next-1)
		}
		if ck, ok := cks[next]; ok && ck.Hash != h {
			return fail(next, "record %d does not match its signed checkpoint", next)
		}
		prev = h
		rep.Records++
		rep.HeadSeq, rep.HeadHash = next, h
		next++
	}
	last := next - 1
	if start == 1 && o.FromCheckpoint == 0 && last == 0 && rep.Checkpoints == 0 && hv == nil {
		return rep // empty log
	}
	if lastCk.Seq > last {
		return fail(last+1, "log ends at seq %d but a signed checkpoint covers seq %d (truncated)", last, lastCk.Seq)
	}
	if hv == nil {
		return fail(1, "head seal missing")
	}
	if head.Seq > last {
		return fail(last+1, "log ends at seq %d but the signed head is seq %d (truncated)", last, head.Seq)
	}
	if head.Seq < last {
		return fail(head.Seq+1, "records after the signed head seq %d (appended outside the log)", head.Seq)
	}
	if head.Hash != prev {
		return fail(last, "record %d does not match the signed head", last)
	}
	return rep
}
