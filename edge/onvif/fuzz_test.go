package onvif

import (
	"errors"
	"strings"
	"testing"
)

// Seeds live in testdata/fuzz/<Fuzz…>; these add the well-formed answers of
// the test device and some near misses.

const profilesAnswer = `<?xml version="1.0"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><e:Body><trt:GetProfilesResponse><trt:Profiles token="P1"><tt:Name>main</tt:Name><tt:VideoSourceConfiguration token="v"><tt:SourceToken>S1</tt:SourceToken></tt:VideoSourceConfiguration><tt:VideoEncoderConfiguration><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution><tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit><tt:BitrateLimit>4096</tt:BitrateLimit></tt:RateControl></tt:VideoEncoderConfiguration></trt:Profiles></trt:GetProfilesResponse></e:Body></e:Envelope>`

const faultAnswer = `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value><e:Subcode><e:Value>ter:NotAuthorized</e:Value></e:Subcode></e:Code><e:Reason><e:Text>Sender not Authorized</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>`

const clockAnswer = `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><GetSystemDateAndTimeResponse><SystemDateAndTime><DateTimeType>NTP</DateTimeType><TimeZone><TZ>CST-8</TZ></TimeZone><UTCDateTime><Time><Hour>23</Hour><Minute>59</Minute><Second>59</Second></Time><Date><Year>2026</Year><Month>2</Month><Day>28</Day></Date></UTCDateTime></SystemDateAndTime></GetSystemDateAndTimeResponse></e:Body></e:Envelope>`

func checkErr(t *testing.T, err error) {
	if err == nil {
		return
	}
	if !errors.Is(err, ErrBadAnswer) && !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrFault) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error not classified: %v", err)
	}
	if len(err.Error()) > 700 || strings.ContainsAny(err.Error(), "\r\n\x00") {
		t.Fatalf("error unbounded or with control characters: %q", err)
	}
}

// FuzzDecodeProfiles: any answer to GetProfiles either yields at most
// MaxProfiles valid video profiles or one classified, bounded error.
func FuzzDecodeProfiles(f *testing.F) {
	f.Add([]byte(profilesAnswer))
	f.Add([]byte(faultAnswer))
	f.Add([]byte(`<Envelope><Body/></Envelope>`))
	f.Add([]byte(`<Envelope><Body><GetProfilesResponse><Profiles token="a"/><Profiles token="a"/></GetProfilesResponse></Body></Envelope>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r getProfiles
		err := decodeBody(data, "GetProfilesResponse", &r)
		if err == nil {
			var ps []Profile
			ps, err = parseProfiles(r)
			if err == nil {
				if len(ps) == 0 || len(ps) > MaxProfiles {
					t.Fatalf("%d profiles", len(ps))
				}
				for _, p := range ps {
					if p.Token == "" || p.Width < 0 || p.Height < 0 || len(p.Name) > 70 {
						t.Fatalf("bad profile %+v", p)
					}
				}
				m, s := MainAndSub(ps)
				if m < 0 || m >= len(ps) || s >= len(ps) {
					t.Fatalf("main %d sub %d of %d", m, s, len(ps))
				}
			}
		}
		checkErr(t, err)
	})
}

// FuzzDecodeClock: a clock answer is a valid UTC time or an error.
func FuzzDecodeClock(f *testing.F) {
	f.Add([]byte(clockAnswer))
	f.Add([]byte(strings.Replace(clockAnswer, "<Day>28", "<Day>30", 1)))
	f.Add([]byte(strings.Replace(clockAnswer, "<Hour>23", "<Hour>-1", 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r systemDateAndTime
		err := decodeBody(data, "GetSystemDateAndTimeResponse", &r)
		if err == nil {
			var c Clock
			c, err = parseClock(r)
			if err == nil && (c.UTC.Year() < 1970 || c.UTC.Location().String() != "UTC") {
				t.Fatalf("clock %v", c.UTC)
			}
		}
		checkErr(t, err)
	})
}

// FuzzDecodeStreamURI: a stream address is rtsp(s)://host/… without user
// info, or an error.
func FuzzDecodeStreamURI(f *testing.F) {
	f.Add([]byte(`<Envelope><Body><GetStreamUriResponse><MediaUri><Uri>rtsp://10.0.0.5:554/Streaming/Channels/101</Uri></MediaUri></GetStreamUriResponse></Body></Envelope>`))
	f.Add([]byte(`<Envelope><Body><GetStreamUriResponse><MediaUri><Uri>rtsp://u:p@cam/x</Uri></MediaUri></GetStreamUriResponse></Body></Envelope>`))
	f.Add([]byte(`<Envelope><Body><GetStreamUriResponse><MediaUri><Uri>javascript:alert(1)</Uri></MediaUri></GetStreamUriResponse></Body></Envelope>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r getStreamURI
		err := decodeBody(data, "GetStreamUriResponse", &r)
		if err == nil {
			var u string
			u, err = checkStreamURI(r.MediaURI.URI)
			if err == nil && (!strings.HasPrefix(u, "rtsp://") && !strings.HasPrefix(u, "rtsps://") || strings.Contains(u, "@") && strings.Index(u, "@") < strings.Index(u[8:], "/")+8) {
				t.Fatalf("accepted %q", u)
			}
		}
		checkErr(t, err)
	})
}

// FuzzParseProbeMatch: a discovery datagram is one bounded camera or an
// error; unrelated answers are refused.
func FuzzParseProbeMatch(f *testing.F) {
	const id = "urn:uuid:0b1d2c3e-1111-4222-8333-444455556666"
	f.Add([]byte(`<Envelope><Header><RelatesTo>` + id + `</RelatesTo></Header><Body><ProbeMatches><ProbeMatch><EndpointReference><Address>urn:uuid:x</Address></EndpointReference><Types>dn:NetworkVideoTransmitter</Types><Scopes>onvif://www.onvif.org/name/Cam%201 onvif://www.onvif.org/hardware/H</Scopes><XAddrs>http://10.0.0.5/onvif/device_service http://[fe80::1]/onvif/device_service</XAddrs></ProbeMatch></ProbeMatches></Body></Envelope>`))
	f.Add([]byte(`<Envelope><Header><RelatesTo>other</RelatesTo></Header><Body><ProbeMatches><ProbeMatch/></ProbeMatches></Body></Envelope>`))
	f.Add([]byte(`<Envelope><Body><ProbeMatches>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fd, err := ParseProbeMatch(data, id)
		if err == nil {
			if fd.Endpoint == "" || len(fd.XAddrs) == 0 || len(fd.XAddrs) > maxXAddrs || len(fd.Scopes) > maxScopes || len(fd.Name) > 70 {
				t.Fatalf("found %+v", fd)
			}
			for _, x := range fd.XAddrs {
				if _, err := CheckXAddr(x); err != nil {
					t.Fatalf("xaddr %q: %v", x, err)
				}
			}
		}
		checkErr(t, err)
	})
}

// FuzzMediaAddress: the media service is always on the device's host.
func FuzzMediaAddress(f *testing.F) {
	f.Add("http://10.0.0.5/onvif/device_service", "http://192.168.1.64:8080/onvif/Media")
	f.Add("http://[fe80::1%25eth0]:80/onvif", "https://evil.example/onvif")
	f.Add("http://cam/onvif", "")
	f.Fuzz(func(t *testing.T, device, xaddr string) {
		du, err := CheckXAddr(device)
		if err != nil {
			return
		}
		m, err := mediaAddress(du.String(), xaddr)
		if err != nil {
			return
		}
		mu, err := CheckXAddr(m)
		if err != nil || mu.Hostname() != du.Hostname() {
			t.Fatalf("media %q for device %q (%v)", m, device, err)
		}
	})
}
