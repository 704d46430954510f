// Package buildroot holds no Go code: buildroot/ is the BR2_EXTERNAL tree
// that builds the Raspberry Pi 4/5 firmware images (see README.md). The Go
// package exists so that buildroot_test.go can check the tree's structure,
// the init and first-boot scripts and scripts/flash.sh and
// scripts/install.sh on the host as part of `go test ./...`.
package buildroot
