// Independent check of the ONVIF test device with the npm "onvif" client
// (0.8.3): discover by multicast, connect with credentials, read device
// information, profiles and the stream URI of every profile. Prints one
// JSON object on stdout. Run by onviftest's TestNodeClient inside a
// network namespace; the client comes from scripts/deps.sh's cache.
'use strict';
const onvif = require('onvif');
const user = process.env.ONVIF_USER, pass = process.env.ONVIF_PASS;
const out = { version: require('onvif/package.json').version, found: [], errors: [] };

function done(code) {
	process.stdout.write(JSON.stringify(out) + '\n');
	process.exit(code);
}
setTimeout(() => { out.errors.push('timeout'); done(3); }, 20000);

onvif.Discovery.on('error', (e) => out.errors.push('discovery: ' + String(e)));
onvif.Discovery.probe({ timeout: 1500, resolve: false }, (err, found) => {
	if (err && !found) { out.errors.push(String(err)); return done(1); }
	for (const f of found) {
		const m = f.probeMatches.probeMatch;
		out.found.push({ urn: m.endpointReference.address, xaddrs: String(m.XAddrs).split(' '), scopes: String(m.scopes) });
	}
	if (out.found.length === 0) { return done(1); }
	const u = new URL(out.found[0].xaddrs[0]);
	const cam = new onvif.Cam({ hostname: u.hostname, port: Number(u.port), path: u.pathname, username: user, password: pass, autoconnect: false, timeout: 5000 });
	cam.on('warning', (w) => out.errors.push('warning: ' + String(w)));
	cam.connect((err) => {
		if (err) { out.errors.push('connect: ' + String(err.message || err)); return done(2); }
		cam.getDeviceInformation((err, info) => {
			if (err) { out.errors.push('deviceinfo: ' + String(err.message || err)); return done(2); }
			out.device = info;
			out.profiles = (cam.profiles || []).map((p) => ({
				token: p.$.token, name: p.name,
				encoding: p.videoEncoderConfiguration && p.videoEncoderConfiguration.encoding,
				width: p.videoEncoderConfiguration && p.videoEncoderConfiguration.resolution.width,
				height: p.videoEncoderConfiguration && p.videoEncoderConfiguration.resolution.height,
			}));
			out.defaultProfile = cam.defaultProfile && cam.defaultProfile.$.token;
			out.uris = {};
			let left = out.profiles.length;
			if (left === 0) { return done(2); }
			for (const p of out.profiles) {
				cam.getStreamUri({ protocol: 'RTSP', profileToken: p.token }, (err, s) => {
					if (err) { out.errors.push('streamuri ' + p.token + ': ' + String(err.message || err)); } else { out.uris[p.token] = s.uri; }
					if (--left === 0) { done(out.errors.length ? 2 : 0); }
				});
			}
		});
	});
});
