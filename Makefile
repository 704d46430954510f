# edgerec — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDX := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
STATIC_TAGS := netgo,osusergo
STATIC_LDFLAGS := -s -w $(LDX) -linkmode external -extldflags "-static"
BIN := bin

.PHONY: demo test build firmware lint bench bench-peer deps clean qemu-gateway

## demo: build, then run the recorder on the embedded demo config (./var/demo)
demo: build
	./$(BIN)/edgerec run --demo

## build: static host binary in bin/edgerec
build:
	@./scripts/deps.sh build >/dev/null
	CGO_ENABLED=1 $(GO) build -tags $(STATIC_TAGS) -trimpath -ldflags '$(STATIC_LDFLAGS)' -o $(BIN)/edgerec ./cmd/edgerec

## firmware: static linux/arm64 and linux/arm (GOARM=7) binaries
firmware:
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ \
		$(GO) build -tags $(STATIC_TAGS) -trimpath -ldflags '$(STATIC_LDFLAGS)' -o $(BIN)/edgerec-linux-arm64 ./cmd/edgerec
	CGO_ENABLED=1 GOOS=linux GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc CXX=arm-linux-gnueabihf-g++ \
		$(GO) build -tags $(STATIC_TAGS) -trimpath -ldflags '$(STATIC_LDFLAGS)' -o $(BIN)/edgerec-linux-armv7 ./cmd/edgerec

## qemu-gateway: the gateway image on an emulated ARM board (root; see buildroot/README.md)
##   make qemu-gateway BUNDLE=DIR [QEMU_GW_OUT=DIR] — builds the card, boots it (Ctrl-A X quits)
QEMU_GW_OUT ?= $(CURDIR)/var/qemu-gateway
qemu-gateway: firmware
	@if [ -z "$(BUNDLE)" ]; then echo "make qemu-gateway: set BUNDLE=DIR (a provisioning bundle: edgerec.yaml …)" >&2; exit 2; fi
	./scripts/qemu-gateway.sh image $(BIN)/edgerec-linux-arm64 $(QEMU_GW_OUT)
	./scripts/qemu-gateway.sh card $(QEMU_GW_OUT) $(BUNDLE)
	./scripts/qemu-gateway.sh boot $(QEMU_GW_OUT)

## deps: install build and test tools (idempotent)
deps:
	./scripts/deps.sh

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

## test: install what is needed, then run every test (unit, race, fuzz seeds, firmware under qemu)
test: deps lint
	$(GO) mod verify
	EDGEREC_REQUIRE_SWTPM=1 EDGEREC_GATEWAY_CUTS=$${EDGEREC_GATEWAY_CUTS:-5} $(GO) test -race -p 1 -timeout 40m ./...
	$(GO) test -count=1 -run 'TestR11AdversaryProperty' ./policy/
	$(MAKE) firmware
	./scripts/test-firmware.sh $(BIN)
	./scripts/qemu-vivid.sh $(BIN)/edgerec-linux-arm64

## bench-peer: edgerec vs ffmpeg on the same RTSP stream (CPU, RSS ratios)
bench-peer:
	./scripts/bench-peer.sh

## bench: Go benchmarks and the side-by-side scripts (numbers to read, never pass/fail)
bench:
	./scripts/bench.sh

clean:
	rm -rf $(BIN)

## image: Raspberry Pi SD card image with Buildroot (see buildroot/README.md)
##   make image BUILDROOT=/path/to/buildroot-2026.02.3 BOARD=rpi4|rpi5 [IMAGE_OUT=DIR]
## The Go modules come from this machine's module cache (vendored offline
## into Buildroot's build dir); Buildroot itself downloads its sources.
BOARD ?= rpi4
IMAGE_OUT ?= $(CURDIR)/var/image-$(BOARD)
.PHONY: image
image:
	@if [ -z "$(BUILDROOT)" ] || [ ! -f "$(BUILDROOT)/Makefile" ]; then \
		echo "make image: set BUILDROOT=/path/to/buildroot (release 2026.02.3; see buildroot/README.md)" >&2; exit 2; fi
	@case "$(BOARD)" in \
		rpi4) d=edgerec_raspberrypi4_64_defconfig ;; \
		rpi5) d=edgerec_raspberrypi5_defconfig ;; \
		*) echo "make image: BOARD=rpi4 or BOARD=rpi5" >&2; exit 2 ;; \
	esac; \
	$(GO) mod download && \
	modcache=$$($(GO) env GOMODCACHE) && \
	unset MAKEFLAGS MFLAGS MAKELEVEL && \
	make -C "$(BUILDROOT)" O="$(IMAGE_OUT)" BR2_EXTERNAL="$(CURDIR)/buildroot" $$d && \
	make -C "$(BUILDROOT)" O="$(IMAGE_OUT)" EDGEREC_GOMODCACHE="$$modcache" EDGEREC_GOPROXY=off
	@echo "image: $(IMAGE_OUT)/images/sdcard.img"
	@echo "flash: sudo scripts/flash.sh $(IMAGE_OUT)/images/sdcard.img /dev/sdX [--bundle DIR]"
