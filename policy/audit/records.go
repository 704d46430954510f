package audit

//go:generate go tool msgp

// Bound decoded arrays and maps so a damaged or hostile row cannot make a
// decoder allocate without limit (found by FuzzDecodeGrant).
//msgp:limit arrays:1024 maps:64

// Record is one audit record (R16). Times are Unix nanoseconds, UTC. Ids
// only: Actor is a user id ("u-…") or "system"/"anonymous", Target is an id
// of TargetKind (a camera's local id, never its name; a user id; a grant id),
// so the uplink can forward records after hashing camera ids (R19).
type Record struct {
	Seq        uint64   `msg:"seq"`
	Time       int64    `msg:"t"`
	Actor      string   `msg:"actor"`
	Action     string   `msg:"act"`
	TargetKind string   `msg:"tk"`
	Target     string   `msg:"tgt"`
	Grant      string   `msg:"grant"`
	Result     string   `msg:"res"`
	Detail     string   `msg:"detail"`
	Prev       [32]byte `msg:"prev"` // hash of record Seq-1; zero for Seq 1
}

// Stored is the bbolt value of a record: the record and its chain hash.
type Stored struct {
	Rec  Record   `msg:"r"`
	Hash [32]byte `msg:"h"`
}

// Seal is a signed (seq, hash) pair: a checkpoint (kept, one every N records
// or interval) or the head seal (one, rewritten with every commit). The two
// are signed under different domain strings, so one cannot stand in for the
// other.
type Seal struct {
	Seq  uint64   `msg:"seq"`
	Hash [32]byte `msg:"h"`
	Time int64    `msg:"t"`
	Sig  []byte   `msg:"sig"`
}
