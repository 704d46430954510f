package index

//go:generate go tool msgp

// Times in records are Unix nanoseconds (UTC).

// Head is the single "meta/head" row: where the synced log ends and the
// counters that Stats reports without scanning.
type Head struct {
	Version      uint32 `msg:"v"`
	RingID       []byte `msg:"ring"`
	LSN          uint64 `msg:"lsn"`   // end of the synced, indexed log
	NextSeg      uint64 `msg:"nseg"`  // next segment id (ids are never reused)
	NextHold     uint64 `msg:"nhold"` // next hold id
	Segments     int64  `msg:"segs"`  // segment rows
	Closed       int64  `msg:"closed"`
	Bytes        int64  `msg:"bytes"` // sealed bytes referenced by segment rows in the data region
	HoldUsed     int64  `msg:"hused"` // bytes allocated in the hold area
	HoldReserved int64  `msg:"hres"`  // bytes promised to holds, not yet copied
}

// Run is a run of consecutive chunks of one segment that lie back to back
// starting at LSN (in the data region, or at an offset in the hold area when
// the segment was moved there).
type Run struct {
	LSN uint64 `msg:"l"`
	N   uint32 `msg:"n"`
}

// KeyFrame locates a chunk that starts with a keyframe.
type KeyFrame struct {
	T     int64  `msg:"t"`
	Chunk uint32 `msg:"c"`
	LSN   uint64 `msg:"l"`
}

// Segment is one recorded segment of one camera. A row exists from
// BeginSegment on; its Chunks/Runs/Keys/End describe only synced bytes.
type Segment struct {
	ID     uint64 `msg:"id"`
	Camera string `msg:"cam"`
	Start  int64  `msg:"start"`
	End    int64  `msg:"end"`
	Synced bool   `msg:"synced"` // camera clock was synced
	Closed bool   `msg:"closed"`
	// Recovered: closed by crash recovery; its last chunk has no last flag.
	Recovered bool       `msg:"recovered"`
	EpochDay  string     `msg:"eday"`
	EpochGen  uint32     `msg:"egen"`
	Key       []byte     `msg:"key"` // segment key wrapped by the epoch key
	Chunks    uint32     `msg:"chunks"`
	Frames    uint32     `msg:"frames"`
	Bytes     int64      `msg:"bytes"` // sealed bytes, headers included
	FirstLSN  uint64     `msg:"first"`
	NextLSN   uint64     `msg:"next"` // just past the last chunk
	Runs      []Run      `msg:"runs"`
	Keys      []KeyFrame `msg:"keys"`
	Holds     []uint64   `msg:"holds"`
	InHold    bool       `msg:"inhold"` // chunks live in the hold area (Runs hold offsets)
	// Codec of the coded video (issue 18): "" (rows written before the
	// field existed) and "h264" are H.264; "h265" is H.265/HEVC.
	Codec string `msg:"codec,omitempty"`
}

// Epoch is one (camera, UTC day, generation) key epoch. The key itself lives
// in the key store, never in bbolt (see storage/keys).
type Epoch struct {
	Camera   string `msg:"cam"`
	Day      string `msg:"day"`
	Gen      uint32 `msg:"gen"`
	Created  int64  `msg:"created"`
	Erased   bool   `msg:"erased"`
	ErasedAt int64  `msg:"erasedat"`
}

// Hold is a legal hold (R8) on the segments of one camera in [From, To).
type Hold struct {
	ID       uint64   `msg:"id"`
	Camera   string   `msg:"cam"`
	From     int64    `msg:"from"`
	To       int64    `msg:"to"`
	Ref      string   `msg:"ref"`
	Created  int64    `msg:"created"`
	Segments []uint64 `msg:"segs"`
	Reserved int64    `msg:"res"` // hold-area bytes reserved for segments not yet copied
}

// HoldExtent is one allocation in the hold area.
type HoldExtent struct {
	Off int64  `msg:"off"`
	Len int64  `msg:"len"`
	Seg uint64 `msg:"seg"`
}
