package web

import (
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/perm"
)

// routes is the route table. Add a route here, never by calling mux.Handle
// elsewhere, so that nothing bypasses authorize. Each row names a row of the
// policy permission table (policy/PERMISSIONS.md); rows marked audited write
// an audit record for every call (R16), and every refusal is audited.
func (s *Server) routes() []route {
	const (
		kCam   = audit.KindCamera
		kUser  = audit.KindUser
		kGrant = audit.KindGrant
		kDev   = audit.KindDevice
		kConf  = audit.KindConfig
	)
	return []route{
		// Session.
		api("POST /api/v1/setup", permPublic, s.apiSetup),
		api("POST /api/v1/login", permPublic, s.apiLogin),
		api("POST /api/v1/logout", permSession, s.apiLogout),
		api("GET /api/v1/me", permSession, s.apiMe),
		api("POST /api/v1/account/password", perm.OwnAccountWrite, s.apiOwnPassword).audited("user.password", kUser),

		// Health.
		api("GET /api/v1/health", perm.HealthRead, s.apiHealth),

		// Cameras (R1, R2, R3, R19).
		api("GET /api/v1/cameras", perm.CamerasRead, s.apiCameras),
		api("POST /api/v1/cameras", perm.CamerasManage, s.apiAddCamera).audited("camera.add", kCam),
		api("GET /api/v1/cameras/{id}", perm.CamerasRead, s.apiCamera).cam(),
		api("PUT /api/v1/cameras/{id}", perm.CamerasManage, s.apiUpdateCamera).cam().audited("camera.update", kCam),
		api("DELETE /api/v1/cameras/{id}", perm.CamerasManage, s.apiRemoveCamera).cam().audited("camera.remove", kCam),
		api("PUT /api/v1/cameras/{id}/masks", perm.MasksManage, s.apiSetMasks).cam().audited("mask.change", kCam),
		api("GET /api/v1/cameras/{id}/snapshot", perm.CameraLive, s.apiSnapshot).cam().audited("camera.view", kCam),
		api("POST /api/v1/cameras/{id}/whep", perm.CameraLive, s.apiWHEP).cam().audited("live.start", kCam),
		api("DELETE /api/v1/cameras/{id}/whep/{sid}", perm.CameraLive, s.apiWHEPEnd).cam().audited("live.stop", kCam),
		api("POST /api/v1/probe", perm.CamerasManage, s.apiProbe).audited("camera.probe", kConf),
		api("GET /api/v1/devices", perm.CamerasManage, s.apiDevices),
		api("GET /api/v1/onvif/discover", perm.CamerasManage, s.apiONVIFDiscover).audited("camera.discover", kConf),
		api("POST /api/v1/onvif/setup", perm.CamerasManage, s.apiONVIFSetup).audited("camera.onvif_setup", kConf),
		api("GET /api/v1/zones", perm.CamerasRead, s.apiZones),

		// Recordings (R11, R12).
		api("GET /api/v1/recordings/{id}/timeline", perm.CamerasRead, s.apiTimeline).cam(),
		api("GET /api/v1/recordings/{id}/play", perm.Playback, s.apiPlay).cam().grant().audited("recordings.playback", kCam),

		// Requests and grants (R12, R13).
		api("GET /api/v1/grants", perm.GrantsRead, s.apiGrants).audited("grants.list", kGrant),
		api("GET /api/v1/grants/mine", permSession, s.apiMyGrants),
		api("POST /api/v1/grants", perm.RecordingsReq, s.apiRequestGrant).audited("grants.request", kGrant),
		api("POST /api/v1/grants/{gid}/approve", perm.GrantsApprove, s.apiApprove).audited("grants.approve", kGrant),
		api("POST /api/v1/grants/{gid}/deny", perm.GrantsApprove, s.apiDeny).audited("grants.deny", kGrant),
		api("POST /api/v1/grants/{gid}/revoke", permSession, s.apiRevoke).audited("grants.revoke", kGrant),
		api("POST /api/v1/grants/{gid}/release", perm.GrantsApprove, s.apiReleaseHold).audited("hold.release", kGrant),

		// Exports (R17).
		api("GET /api/v1/exports", perm.Export, s.apiExports).grant(),
		api("POST /api/v1/exports", perm.Export, s.apiStartExport).grant().audited("export.start", kCam),
		api("GET /api/v1/exports/{xid}", perm.Export, s.apiExport).grant(),
		api("GET /api/v1/exports/{xid}/{part}", perm.Export, s.apiExportFile).grant().audited("export.download", kCam),

		// Users and roles (R11, R13, R15).
		api("GET /api/v1/users", perm.UsersManage, s.apiUsers).audited("users.list", kUser),
		api("POST /api/v1/users", perm.UsersManage, s.apiCreateUser).audited("users.create", kUser),
		api("POST /api/v1/users/{uid}/role", perm.UsersManage, s.apiRequestRole).audited("users.role", kUser),
		api("POST /api/v1/users/{uid}/training", perm.UsersManage, s.apiTraining).audited("users.training", kUser),
		api("POST /api/v1/users/{uid}/disable", perm.UsersManage, s.apiDisable).audited("users.disable", kUser),
		api("POST /api/v1/users/{uid}/enable", perm.UsersManage, s.apiEnable).audited("users.enable", kUser),
		api("POST /api/v1/users/{uid}/password", perm.UsersManage, s.apiResetPassword).audited("users.password", kUser),

		// Maintenance visits (issue 18: 工作记录和档案).
		api("POST /api/v1/maintenance", perm.Maintenance, s.apiRecordVisit).audited("maintenance.record", kDev),
		api("GET /api/v1/maintenance", perm.Maintenance, s.apiVisits).audited("maintenance.list", kDev),

		// Settings (issue 18): network.manage for the uplink and the LAN
		// allowlist, config.change for the rest; either reads them.
		api("GET /api/v1/settings", perm.ConfigChange, s.apiSettings).or(perm.NetworkManage).audited("settings.read", kConf),
		api("PUT /api/v1/settings/uplink", perm.NetworkManage, s.apiSetUplink).audited("settings.uplink", kConf),
		api("PUT /api/v1/settings/allowlist", perm.NetworkManage, s.apiSetAllowlist).audited("settings.allowlist", kConf),
		api("PUT /api/v1/settings/ntp", perm.ConfigChange, s.apiSetNTP).audited("settings.ntp", kConf),
		api("PUT /api/v1/settings/gpio", perm.ConfigChange, s.apiSetGPIO).audited("settings.gpio", kConf),
		api("PUT /api/v1/settings/retention", perm.ConfigChange, s.apiSetRetention).audited("settings.retention", kCam),

		// Review, audit (R14, R16).
		api("GET /api/v1/review", perm.ReportsRead, s.apiReview).audited("review.read", kUser),
		api("GET /api/v1/backup", perm.BackupExport, s.apiBackup).audited("backup.export", kDev),
		api("GET /api/v1/audit", perm.AuditRead, s.apiAudit).audited("audit.read", kDev),
		api("GET /api/v1/audit/verify", perm.AuditRead, s.apiAuditVerify).audited("audit.verify", kDev),

		// Decommission (R25): an admin requests, an approver approves, the
		// admin confirms with the device id.
		api("POST /api/v1/decommission/request", perm.Decommission, s.apiDecomRequest).grant().audited("decommission.request", kDev),
		api("POST /api/v1/decommission", perm.Decommission, s.apiDecommission).grant().audited("decommission.run", kDev),

		// System updates (issue 16, R21): an admin uploads a signed bundle
		// and requests it, an approver approves (the approval installs it).
		api("POST /api/v1/update", perm.DeviceUpdate, s.apiUploadUpdate).audited("update.upload", kDev),
		api("GET /api/v1/update", perm.HealthRead, s.apiUpdateStatus),

		// Anything else under /api/v1/: 401 without a session (no route
		// discovery), 404 JSON with one.
		api("/api/v1/", permSession, s.apiNotFound),

		// Metrics: a role with metrics.read, or the metrics token.
		{pattern: "GET /metrics", need: perm.MetricsRead, api: true, token: true, handle: s.handleMetrics},

		// Page.
		page("GET /{$}", permPublic, s.pageIndex),
		page("POST /login", permPublic, s.pageLogin),
		page("POST /setup", permPublic, s.pageSetup),
		page("POST /logout", permPublic, s.pageLogout),
		page("GET /static/{name}", permPublic, s.pageStatic),
		page("GET /cameras", perm.CamerasRead, s.pageApp("cameras", "Cameras")),
		page("GET /cameras/{id}/masks", perm.MasksManage, s.pageApp("masks", "Mask editor")).cam(),
		page("GET /live", perm.CameraLive, s.pageApp("live", "Live view")),
		page("GET /recordings", perm.CamerasRead, s.pageApp("recordings", "Recordings")),
		page("GET /requests", permSession, s.pageApp("requests", "Requests and grants")),
		page("GET /exports", perm.Export, s.pageApp("exports", "Exports")).grant(),
		page("GET /users", perm.UsersManage, s.pageApp("users", "Users and roles")),
		page("GET /review", perm.ReportsRead, s.pageApp("review", "Permission review")),
		page("GET /maintenance", perm.Maintenance, s.pageApp("maintenance", "Maintenance visits")),
		page("GET /update", perm.DeviceUpdate, s.pageApp("update", "System update")),
		page("GET /settings", perm.ConfigChange, s.pageApp("settings", "Settings")).or(perm.NetworkManage),
		page("GET /audit", perm.AuditRead, s.pageApp("audit", "Audit log")),
		page("GET /decommission", perm.Decommission, s.pageApp("decommission", "Decommission")).grant(),
		page("GET /account", perm.OwnAccountWrite, s.pageApp("account", "Account")),
	}
}
