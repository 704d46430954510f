package codec

// NAL unit types used by the recorder (ITU-T H.264 Table 7-1).
const (
	NALSlice = 1
	NALIDR   = 5
	NALSEI   = 6
	NALSPS   = 7
	NALPPS   = 8
	NALAUD   = 9
)

// SplitAnnexB returns the NAL units of an Annex-B byte stream, without their
// start codes. Empty NAL units are skipped.
func SplitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	i := 0
	for i+2 < len(b) {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 {
					end-- // 4-byte start code of the next unit
				}
				if end > start {
					out = append(out, b[start:end])
				}
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// NALTypes lists the nal_unit_type of every NAL unit in an Annex-B stream.
func NALTypes(b []byte) []int {
	units := SplitAnnexB(b)
	t := make([]int, 0, len(units))
	for _, u := range units {
		if len(u) > 0 {
			t = append(t, int(u[0]&0x1f))
		}
	}
	return t
}

// IsKeyframe reports whether an Annex-B access unit holds an IDR slice.
func IsKeyframe(b []byte) bool {
	for _, t := range NALTypes(b) {
		if t == NALIDR {
			return true
		}
	}
	return false
}

// HasParameterSets reports whether an access unit carries both SPS and PPS,
// so a decoder can start from it.
func HasParameterSets(b []byte) bool {
	var sps, pps bool
	for _, t := range NALTypes(b) {
		sps = sps || t == NALSPS
		pps = pps || t == NALPPS
	}
	return sps && pps
}
