package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/edgerec/edgerec/policy/kind"
)

// ZoneType is what a camera looks at, declared by the installer (R1).
type ZoneType string

// Zone types.
const (
	ZoneEntrance    ZoneType = "entrance"
	ZoneExit        ZoneType = "exit"
	ZoneCorridor    ZoneType = "corridor"
	ZoneStairwell   ZoneType = "stairwell"
	ZoneLobby       ZoneType = "lobby"
	ZoneReception   ZoneType = "reception"
	ZoneCashDesk    ZoneType = "cash_desk"
	ZoneCounter     ZoneType = "counter"
	ZoneOffice      ZoneType = "office"
	ZoneMeetingRoom ZoneType = "meeting_room"
	ZoneServerRoom  ZoneType = "server_room"
	ZoneVault       ZoneType = "vault"
	ZoneParking     ZoneType = "parking"
	ZoneLoadingDock ZoneType = "loading_dock"
	ZoneWarehouse   ZoneType = "warehouse"
	ZoneShopFloor   ZoneType = "shop_floor"
	ZonePublicArea  ZoneType = "public_area"
	ZonePerimeter   ZoneType = "perimeter"
	ZoneClassroom   ZoneType = "classroom"

	ZoneToilet       ZoneType = "toilet"
	ZoneChangingRoom ZoneType = "changing_room"
	ZoneShower       ZoneType = "shower"
	ZoneDormitory    ZoneType = "dormitory"
	ZoneBedroom      ZoneType = "bedroom"
	ZoneHotelRoom    ZoneType = "hotel_room"
	ZoneNursingRoom  ZoneType = "nursing_room"
)

// ErrProhibitedZone is wrapped by CheckZone when a zone must not be recorded.
var ErrProhibitedZone = kind.New(kind.Refused, "prohibited zone")

// ErrUnknownZone is wrapped by CheckZone for a zone type it does not know.
var ErrUnknownZone = kind.New(kind.Refused, "unknown zone type")

// prohibitedReason is why a zone is never recordable.
func prohibitedReason(z ZoneType) (string, bool) {
	switch z {
	case ZoneToilet:
		return "recording in toilets is never allowed", true
	case ZoneChangingRoom:
		return "recording in changing rooms is never allowed", true
	case ZoneShower:
		return "recording in showers is never allowed", true
	case ZoneDormitory:
		return "recording in dormitories is never allowed", true
	case ZoneBedroom:
		return "recording in bedrooms is never allowed", true
	case ZoneHotelRoom:
		return "recording in hotel rooms is never allowed", true
	case ZoneNursingRoom:
		return "recording in nursing rooms is never allowed", true
	}
	return "", false
}

// KnownZones returns every zone type CheckZone knows, sorted.
func KnownZones() []ZoneType {
	z := []ZoneType{
		ZoneEntrance, ZoneExit, ZoneCorridor, ZoneStairwell, ZoneLobby, ZoneReception,
		ZoneCashDesk, ZoneCounter, ZoneOffice, ZoneMeetingRoom, ZoneServerRoom, ZoneVault,
		ZoneParking, ZoneLoadingDock, ZoneWarehouse, ZoneShopFloor, ZonePublicArea,
		ZonePerimeter, ZoneClassroom,
		ZoneToilet, ZoneChangingRoom, ZoneShower, ZoneDormitory, ZoneBedroom, ZoneHotelRoom,
		ZoneNursingRoom,
	}
	slices.Sort(z)
	return z
}

// Known reports whether z is a known zone type.
func Known(z ZoneType) bool {
	_, ok := slices.BinarySearch(KnownZones(), z)
	return ok
}

// Site is what the zone rules need to know about the site and its policy.
type Site struct {
	// School: the site is a school, so classrooms are not recorded.
	School bool
	// ExtraProhibited are zone types the site's policy also forbids.
	ExtraProhibited []ZoneType
}

// CheckZone returns nil when a camera may record zone z at site (R1). A
// prohibited zone gives an error wrapping ErrProhibitedZone that says why;
// an unknown zone gives one wrapping ErrUnknownZone that lists the known
// types.
func CheckZone(z ZoneType, site Site) error {
	if !Known(z) {
		names := make([]string, 0, 32)
		for _, k := range KnownZones() {
			names = append(names, string(k))
		}
		return ruleErr(ErrUnknownZone, "unknown zone type %q (known: %s)", string(z), strings.Join(names, ", "))
	}
	if why, ok := prohibitedReason(z); ok {
		return ruleErr(ErrProhibitedZone, "zone %q is prohibited: %s (R1)", string(z), why)
	}
	if z == ZoneClassroom && site.School {
		return ruleErr(ErrProhibitedZone, "zone %q is prohibited: recording classrooms at a school is not allowed (R1)", string(z))
	}
	if slices.Contains(site.ExtraProhibited, z) {
		return ruleErr(ErrProhibitedZone, "zone %q is prohibited: the site policy forbids it (prohibited_zones)", string(z))
	}
	return nil
}

// ruleError is a rule violation: its message is the whole explanation and
// it unwraps to the sentinel (ErrProhibitedZone, ErrUnknownZone,
// ErrRetention).
type ruleError struct {
	msg      string
	sentinel error
}

func (e *ruleError) Error() string { return e.msg }
func (e *ruleError) Unwrap() error { return e.sentinel }

func ruleErr(sentinel error, format string, args ...any) error {
	return &ruleError{msg: fmt.Sprintf(format, args...), sentinel: sentinel}
}
