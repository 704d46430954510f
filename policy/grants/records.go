package grants

//go:generate go tool msgp

// Bound decoded arrays and maps so a damaged or hostile row cannot make a
// decoder allocate without limit (found by FuzzDecodeGrant).
//msgp:limit arrays:1024 maps:64

// Times are Unix nanoseconds (UTC); 0 means "not set".

// Approval is one approver's consent.
type Approval struct {
	By   string `msg:"by"`   // user id
	Role string `msg:"role"` // the approver's role at the time
	At   int64  `msg:"at"`
	// Bootstrap: the one sanctioned exception to four eyes (see doc.go).
	Bootstrap bool `msg:"boot"`
}

// Grant is a request and, once approved, the grant it became (R12), or a
// role assignment going through the same flow (R13). The id never changes.
type Grant struct {
	ID            string `msg:"id"`
	Action        string `msg:"act"`
	Purpose       string `msg:"purpose"`
	Requester     string `msg:"req"`
	RequesterRole string `msg:"reqrole"`
	Created       int64  `msg:"created"`
	// RequestExpires: an undecided request lapses at this time.
	RequestExpires int64 `msg:"rexp"`
	// Validity is how long the grant lasts once issued (nanoseconds).
	Validity int64 `msg:"validity"`

	// Footage scope (playback, export, legal_hold).
	Cameras []string `msg:"cams"`
	From    int64    `msg:"from"`
	To      int64    `msg:"to"`

	// Role assignment (action "role"): who gets which role, limited to
	// these cameras (empty = all), replacing Supersedes if set (a change).
	Subject    string `msg:"subj"`
	Role       string `msg:"role"`
	Supersedes string `msg:"supersedes"`

	// Coverage change (action "coverage", R27): Cameras holds the one
	// camera, Kind what the change does to its coverage and Digest the
	// SHA-256 (hex) of the exact proposal the camera manager keeps.
	Kind   string `msg:"ckind"`
	Digest string `msg:"cdigest"`

	Status    string     `msg:"status"`
	Approvals []Approval `msg:"approvals"`
	Issued    int64      `msg:"issued"`
	Expires   int64      `msg:"expires"`

	DecidedBy string `msg:"decidedby"` // denier or revoker
	DecidedAt int64  `msg:"decidedat"`
	Reason    string `msg:"reason"` // deny or revoke reason

	Uses    uint64 `msg:"uses"`
	LastUse int64  `msg:"lastuse"`
}
