package codec

// #include <malloc.h>
// static int edgerec_arena_max(int n) {
// #ifdef M_ARENA_MAX
//   return mallopt(M_ARENA_MAX, n);
// #else
//   (void)n; return 0;
// #endif
// }
// static int edgerec_mmap_threshold(int n) {
// #ifdef M_MMAP_THRESHOLD
//   return mallopt(M_MMAP_THRESHOLD, n);
// #else
//   (void)n; return 0;
// #endif
// }
import "C"

// LimitMallocArenas caps the C allocator's per-thread arenas at n (glibc
// mallopt M_ARENA_MAX; a no-op elsewhere) and reports whether it took.
//
// Why (issue 14, passthrough memory): the codec's C memory — a decoder
// made for one keyframe look of a passed-through camera, ~27 MB at 1080p,
// then freed — is allocated on the codec's own C thread (worker.go), a
// new one per codec. glibc gives busy threads their own arenas and keeps what
// is freed there, so the looks of many cameras leave several arenas
// holding their peak. Two arenas kept that memory reusable while codec
// calls ran on Go's threads (16 passthrough 1080p cameras: peak RSS 239 →
// 208 MiB, scripts/bench-peer.sh); with a C thread per codec the daemon
// uses one (cmd/edgerec tuneMemory).
// The daemon calls it once at start, before any codec is used.
func LimitMallocArenas(n int) bool {
	return C.edgerec_arena_max(C.int(n)) == 1
}

// FixMmapThreshold makes every C allocation of at least n bytes its own
// mapping, returned to the system when freed (glibc mallopt
// M_MMAP_THRESHOLD; a no-op elsewhere), and reports whether it took.
//
// Why (issue 14, passthrough memory): glibc raises its threshold to the
// size of every mapped block that is freed, so after the first look's
// decoder was freed the next ones came from the heap, which kept its peak:
// 16 passthrough 1080p cameras peaked at 128–173 MiB over three runs, with a
// fixed 128 KiB threshold at 122–125 MiB. The codec allocates its large
// buffers when a codec is made or first sees a picture size, never per
// picture, so the extra mmap calls cost nothing measurable.
func FixMmapThreshold(n int) bool {
	return C.edgerec_mmap_threshold(C.int(n)) == 1
}
