package onvif

import (
	"context"
	"fmt"
	"time"
)

// SetupRequest is what the installer gives for a picked camera.
type SetupRequest struct {
	XAddr string // device service address (from discovery or typed)
	Cred  Credentials
	// SetClock sets the camera's clock from the gateway's clock (only when
	// the gateway's clock is synced; see Finder.ClockSynced).
	SetClock bool
}

// Stream is one stream the page fills in.
type Stream struct {
	Profile Profile `json:"profile"`
	URI     string  `json:"uri"` // rtsp://host/… without credentials
}

// SetupResult is what the page shows and fills in.
type SetupResult struct {
	XAddr    string       `json:"xaddr"`
	Device   DeviceInfo   `json:"device"`
	Profiles []Profile    `json:"profiles"`
	Main     Stream       `json:"main"`
	Sub      *Stream      `json:"sub,omitempty"`
	Clock    ClockOutcome `json:"clock"`
}

// ClockOutcome reports the camera's clock before and after.
type ClockOutcome struct {
	Camera     Clock   `json:"camera"`      // as read before any change
	OffsetSecs float64 `json:"offset_secs"` // camera − gateway, before
	Set        bool    `json:"set"`         // the clock was set
	AfterSecs  float64 `json:"after_secs"`  // camera − gateway after setting (when Set)
	Note       string  `json:"note,omitempty"`
}

// Setup reads everything the "add camera" form needs, in the order the
// spec asks (clock first, so the digest's Created fits the camera's clock),
// and sets the clock last, only when every read succeeded: on any error
// nothing was changed on the camera.
func Setup(ctx context.Context, req SetupRequest, synced func() bool, opts ...ClientOption) (SetupResult, error) {
	c, err := NewClient(req.XAddr, req.Cred, opts...)
	if err != nil {
		return SetupResult{}, err
	}
	clk, err := c.SystemDateAndTime(ctx)
	if err != nil {
		return SetupResult{}, err
	}
	res := SetupResult{XAddr: c.device, Clock: ClockOutcome{Camera: clk, OffsetSecs: c.Shift().Seconds()}}
	if res.Device, err = c.DeviceInformation(ctx); err != nil {
		return SetupResult{}, err
	}
	if res.Profiles, err = c.Profiles(ctx); err != nil {
		return SetupResult{}, err
	}
	mi, si := MainAndSub(res.Profiles)
	uri, err := c.StreamURI(ctx, res.Profiles[mi].Token)
	if err != nil {
		return SetupResult{}, fmt.Errorf("main stream: %w", err)
	}
	res.Main = Stream{Profile: res.Profiles[mi], URI: uri}
	if si >= 0 {
		uri, err := c.StreamURI(ctx, res.Profiles[si].Token)
		if err != nil {
			return SetupResult{}, fmt.Errorf("sub stream: %w", err)
		}
		res.Sub = &Stream{Profile: res.Profiles[si], URI: uri}
	}
	if !req.SetClock {
		return res, nil
	}
	if synced == nil || !synced() {
		res.Clock.Note = "the gateway's clock is not synced yet; the camera's clock was left as it is"
		return res, nil
	}
	if err := c.SetSystemDateAndTime(ctx, c.now()); err != nil {
		return SetupResult{}, fmt.Errorf("setting the camera's clock: %w", err)
	}
	if _, err := c.SystemDateAndTime(ctx); err != nil {
		return SetupResult{}, fmt.Errorf("reading the camera's clock after setting it: %w", err)
	}
	res.Clock.Set = true
	res.Clock.AfterSecs = c.Shift().Seconds()
	if d := time.Duration(res.Clock.AfterSecs * float64(time.Second)); d > 2*time.Second || d < -2*time.Second {
		res.Clock.Note = fmt.Sprintf("the camera accepted the time but is still %.0f s off", res.Clock.AfterSecs)
	}
	return res, nil
}
