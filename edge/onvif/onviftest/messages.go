package onviftest

import (
	"fmt"
	"html"
	"net/http"
	"strings"
)

// Namespaces (ONVIF Core 2.x, Media 1.0, SOAP 1.2, WS-Discovery 2005/04).
const (
	nsSOAP   = "http://www.w3.org/2003/05/soap-envelope"
	nsDevice = "http://www.onvif.org/ver10/device/wsdl"
	nsMedia  = "http://www.onvif.org/ver10/media/wsdl"
	nsSchema = "http://www.onvif.org/ver10/schema"
	nsError  = "http://www.onvif.org/ver10/error"
	nsWSD    = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	nsWSA    = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsDN     = "http://www.onvif.org/ver10/network/wsdl"
)

var esc = html.EscapeString

func writeEnvelope(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="%s" xmlns:tds="%s" xmlns:trt="%s" xmlns:tt="%s" xmlns:ter="%s">`+
		`<SOAP-ENV:Body>%s</SOAP-ENV:Body></SOAP-ENV:Envelope>`, nsSOAP, nsDevice, nsMedia, nsSchema, nsError, body)
}

// fault answers a SOAP 1.2 fault (ONVIF Core §5.11.2).
func fault(w http.ResponseWriter, status int, code, subcode, reason string) {
	writeEnvelope(w, status, `<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>`+code+`</SOAP-ENV:Value>`+
		`<SOAP-ENV:Subcode><SOAP-ENV:Value>`+subcode+`</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code>`+
		`<SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">`+esc(reason)+`</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>`)
}

func dateTimeXML(tag string, y, mo, da, h, mi, s int) string {
	return fmt.Sprintf(`<tt:%s><tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time>`+
		`<tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date></tt:%s>`, tag, h, mi, s, y, mo, da, tag)
}

func (d *Device) dateTime() string {
	now := d.Clock()
	d.mu.Lock()
	typ := d.dtType
	d.mu.Unlock()
	u := dateTimeXML("UTCDateTime", now.Year(), int(now.Month()), now.Day(), now.Hour(), now.Minute(), now.Second())
	l := dateTimeXML("LocalDateTime", now.Year(), int(now.Month()), now.Day(), now.Hour(), now.Minute(), now.Second())
	return `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>` + typ + `</tt:DateTimeType>` +
		`<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>` + u + l +
		`</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`
}

func (d *Device) deviceInfo() string {
	c := d.cfg
	return `<tds:GetDeviceInformationResponse><tds:Manufacturer>` + esc(c.Manufacturer) + `</tds:Manufacturer><tds:Model>` + esc(c.Model) +
		`</tds:Model><tds:FirmwareVersion>` + esc(c.Firmware) + `</tds:FirmwareVersion><tds:SerialNumber>` + esc(c.Serial) +
		`</tds:SerialNumber><tds:HardwareId>` + esc(c.HardwareID) + `</tds:HardwareId></tds:GetDeviceInformationResponse>`
}

func (d *Device) capabilities(r *http.Request) string {
	h := d.hostOf(r)
	return `<tds:GetCapabilitiesResponse><tds:Capabilities>` +
		`<tt:Device><tt:XAddr>http://` + esc(h) + `/onvif/device_service</tt:XAddr>` +
		`<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>false</tt:DiscoveryBye><tt:RemoteDiscovery>false</tt:RemoteDiscovery>` +
		`<tt:SystemBackup>false</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>` +
		`<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions></tt:System></tt:Device>` +
		`<tt:Media><tt:XAddr>http://` + esc(h) + `/onvif/media_service</tt:XAddr><tt:StreamingCapabilities>` +
		`<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>` +
		`</tds:Capabilities></tds:GetCapabilitiesResponse>`
}

func (d *Device) services(r *http.Request) string {
	h := d.hostOf(r)
	svc := func(ns, path string) string {
		return `<tds:Service><tds:Namespace>` + ns + `</tds:Namespace><tds:XAddr>http://` + esc(h) + path + `</tds:XAddr>` +
			`<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>`
	}
	return `<tds:GetServicesResponse>` + svc(nsDevice, "/onvif/device_service") + svc(nsMedia, "/onvif/media_service") + `</tds:GetServicesResponse>`
}

func (d *Device) profiles(noVideo bool) string {
	var b strings.Builder
	b.WriteString(`<trt:GetProfilesResponse>`)
	for i, p := range d.cfg.Profiles {
		fmt.Fprintf(&b, `<trt:Profiles token="%s" fixed="true"><tt:Name>%s</tt:Name>`, esc(p.Token), esc(p.Name))
		fmt.Fprintf(&b, `<tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>%d</tt:UseCount>`+
			`<tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>`, len(d.cfg.Profiles))
		if !noVideo {
			fmt.Fprintf(&b, `<tt:VideoEncoderConfiguration token="VideoEncoder_%d"><tt:Name>VideoEncoder_%d</tt:Name><tt:UseCount>1</tt:UseCount>`+
				`<tt:Encoding>%s</tt:Encoding><tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution><tt:Quality>4</tt:Quality>`+
				`<tt:RateControl><tt:FrameRateLimit>%d</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>%d</tt:BitrateLimit></tt:RateControl>`+
				`<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>`+
				`<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>`, i+1, i+1, esc(p.Encoding), p.Width, p.Height, p.FPS, p.Kbps)
		}
		b.WriteString(`</trt:Profiles>`)
	}
	b.WriteString(`</trt:GetProfilesResponse>`)
	return b.String()
}

func (d *Device) videoSources() string {
	return `<trt:GetVideoSourcesResponse><trt:VideoSources token="VideoSource_1"><tt:Framerate>25</tt:Framerate>` +
		`<tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>`
}

func streamURIResponse(uri string) string {
	return `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>` + esc(uri) + `</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>` +
		`<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`
}

// probeMatch is a WS-Discovery ProbeMatches answer (WS-Discovery §5.3,
// ONVIF Core §7.3.2).
func probeMatch(messageID, relatesTo, endpoint, xaddr, name string) []byte {
	scopes := "onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/name/" +
		strings.ReplaceAll(name, " ", "%20") + " onvif://www.onvif.org/hardware/ET-2MP onvif://www.onvif.org/location/loopback"
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="` + nsSOAP + `" xmlns:wsa="` + nsWSA +
		`" xmlns:d="` + nsWSD + `" xmlns:dn="` + nsDN + `"><SOAP-ENV:Header><wsa:MessageID>` + messageID + `</wsa:MessageID>` +
		`<wsa:RelatesTo>` + esc(relatesTo) + `</wsa:RelatesTo><wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>` +
		`<wsa:Action>` + nsWSD + `/ProbeMatches</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>` +
		`<wsa:EndpointReference><wsa:Address>` + esc(endpoint) + `</wsa:Address></wsa:EndpointReference>` +
		`<d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>` + esc(scopes) + `</d:Scopes><d:XAddrs>` + esc(xaddr) + `</d:XAddrs>` +
		`<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
}
