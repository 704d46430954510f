package outbox

//go:generate go tool msgp -unexported

// rec is the stored value of one queued message.
type rec struct {
	Kind    uint8  `msg:"k"`
	Created int64  `msg:"t"` // unix ms when appended
	Payload []byte `msg:"p"`
}

// overflowState is the "meta/ovf" row: the queued, unsent overflow event (if
// any) and what it reports so far.
type overflowState struct {
	ID      uint64 `msg:"id"` // 0 = none queued
	Beacons uint64 `msg:"b"`
	Events  uint64 `msg:"e"`
	Audit   uint64 `msg:"a"`
	FirstID uint64 `msg:"first"`
	LastID  uint64 `msg:"last"`
}
