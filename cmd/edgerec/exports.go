package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/export/jobs"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/storage/keys"
)

// exportDevice is the device as the export runner sees it: names from the
// current config, the signing key from the vault.
type exportDevice struct {
	dir    string
	config func() *config.Config
	vault  *keys.Vault
}

func (d exportDevice) Subject(camera string) export.Subject {
	return exportSubject(d.dir, d.config(), d.vault, camera)
}

func (d exportDevice) SigningKey() (ed25519.PrivateKey, error) {
	if d.vault == nil {
		return nil, errors.New("the store has no vault")
	}
	return devkey.Load(d.dir, d.vault)
}

// webExports adapts the export runner (edge/export/jobs) to web.Exports.
type webExports struct{ r *jobs.Runner }

func (w webExports) Start(ctx context.Context, req web.ExportRequest) (web.ExportStatus, error) {
	st, err := w.r.Start(ctx, jobs.Request(req))
	return web.ExportStatus(st), webExportError(err)
}

func (w webExports) Status(ctx context.Context, id string) (web.ExportStatus, error) {
	st, err := w.r.Status(ctx, id)
	return web.ExportStatus(st), webExportError(err)
}

func (w webExports) List(ctx context.Context) ([]web.ExportStatus, error) {
	all, err := w.r.List(ctx)
	out := make([]web.ExportStatus, len(all))
	for i, st := range all {
		out[i] = web.ExportStatus(st)
	}
	return out, webExportError(err)
}

func (w webExports) Open(ctx context.Context, id, part string) (io.ReadCloser, int64, error) {
	rc, n, err := w.r.Open(ctx, id, part)
	return rc, n, webExportError(err)
}

func webExportError(err error) error {
	switch {
	case errors.Is(err, jobs.ErrBusy), errors.Is(err, jobs.ErrTampered):
		return fmt.Errorf("%w: %w", web.ErrUnavailable, err)
	case errors.Is(err, jobs.ErrNotFound), errors.Is(err, jobs.ErrNotReady), errors.Is(err, jobs.ErrBadPart):
		return fmt.Errorf("%w: %w", web.ErrInvalid, err)
	}
	return err
}
