################################################################################
#
# edgerec
#
# Built from the local checkout that holds this BR2_EXTERNAL tree (the
# repository root, one level above buildroot/), or from EDGEREC_CHECKOUT.
# Buildroot's Go infrastructure builds with GOFLAGS=-mod=vendor and
# GOPROXY=off; a local source is never passed through the download step that
# would vendor it, so EDGEREC_VENDOR (below) vendors the copy in the build
# directory before the build (the checkout itself is never touched):
#
#   - offline: EDGEREC_GOMODCACHE=$(go env GOMODCACHE) EDGEREC_GOPROXY=off
#     use a module cache that already holds the modules (any machine that has
#     run `make build` or `go mod download` in the checkout); this is what
#     `make image` in the repository does;
#   - online: the default downloads the modules through EDGEREC_GOPROXY into
#     Buildroot's own module cache;
#   - a source tree that already has vendor/modules.txt is used as it is.
#
# `go mod vendor` copies only directories that hold Go files, so the static
# libopenh264 archives and headers of pion/mediadevices (lib/, include/) are
# copied next to the vendored package by vendor.sh.
#
################################################################################

EDGEREC_VERSION = local
EDGEREC_CHECKOUT ?= $(realpath $(BR2_EXTERNAL_EDGEREC_PATH)/..)
EDGEREC_SITE = $(EDGEREC_CHECKOUT)
EDGEREC_SITE_METHOD = local
EDGEREC_LICENSE = Proprietary
EDGEREC_GOMOD = github.com/edgerec/edgerec
EDGEREC_BUILD_TARGETS = cmd/edgerec

# Do not copy build outputs, demo data or Buildroot output dirs of the
# checkout into the build directory.
EDGEREC_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/bin --exclude=/var --exclude=/edgerec --exclude=/output \
	--exclude=/buildroot --exclude='*.test'

EDGEREC_GIT_VERSION ?= $(shell git -C $(EDGEREC_CHECKOUT) describe --tags --always --dirty 2>/dev/null || echo dev)
EDGEREC_GIT_COMMIT ?= $(shell git -C $(EDGEREC_CHECKOUT) rev-parse --short HEAD 2>/dev/null || echo unknown)

# Static binary with cgo (openh264), as `make firmware` builds it:
# -tags netgo,osusergo -ldflags '-s -w -linkmode external -extldflags -static'.
# The Go infrastructure adds -trimpath and, on aarch64, -fuse-ld=bfd.
EDGEREC_TAGS = netgo osusergo
EDGEREC_LDFLAGS = -s -w -linkmode external \
	-X main.version=$(EDGEREC_GIT_VERSION) -X main.commit=$(EDGEREC_GIT_COMMIT)
EDGEREC_EXTLDFLAGS = -static
EDGEREC_GO_ENV = CGO_ENABLED=1

EDGEREC_GOMODCACHE ?= $(HOST_GO_GOPATH)/pkg/mod
EDGEREC_GOPROXY ?= https://proxy.golang.org,direct

define EDGEREC_VENDOR
	$(HOST_GO_COMMON_ENV) \
		GOFLAGS=-mod=mod \
		GOPROXY=$(EDGEREC_GOPROXY) \
		GOMODCACHE=$(EDGEREC_GOMODCACHE) \
		GO=$(GO_BIN) \
		$(BR2_EXTERNAL_EDGEREC_PATH)/package/edgerec/vendor.sh $(@D)
endef
EDGEREC_PRE_BUILD_HOOKS += EDGEREC_VENDOR

$(eval $(golang-package))
