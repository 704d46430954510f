// Package rules holds the pure placement and retention rules of the policy:
// which zone types may be recorded (R1) and the retention floor and ceiling
// every camera must respect (R6). It does no I/O and imports nothing from
// edge, hal, storage or net/http, so every part of the system (config
// validation, the recorder, the LAN page) applies the same rules.
//
// # Zones (R1)
//
// Known zone types, recordable unless the policy adds them to its extra
// prohibited list:
//
//	entrance, exit, corridor, stairwell, lobby, reception, cash_desk,
//	counter, office, meeting_room, server_room, vault, parking, loading_dock,
//	warehouse, shop_floor, public_area, perimeter, classroom
//
// Always prohibited (CheckZone returns ErrProhibitedZone with the reason):
//
//	toilet, changing_room, shower, dormitory, bedroom, hotel_room,
//	nursing_room
//
// classroom is prohibited when the site is a school (Site.School). A zone
// type not in either list is an error that lists the known ones, so a typo
// never slips through as "allowed".
//
// # Retention (R6)
//
// Retention{Floor, Ceiling} bounds every camera's retention. The zero
// Retention means the defaults: 30 days floor (a common legal minimum) and
// 90 days ceiling. Validate wants 0 < Floor <= Ceiling <= MaxRetention (400
// days), so footage can never be kept indefinitely. Clamp checks a camera's
// retention: 0 means "use the floor"; a value below the floor or above the
// ceiling is an error naming the bound (it is not silently adjusted, so the
// installer sees the conflict).
package rules
