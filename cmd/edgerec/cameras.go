package main

import "github.com/edgerec/edgerec/edge/cameras"

// The camera manager lives in edge/cameras; these names keep the code that
// other changes of issue 15 are moving out (wipe.go, maintain) compiling
// unchanged until they land.
type cameraManager = cameras.Manager

const vaultDir = cameras.VaultDir

// auditor is what panel.go audits to.
type auditor = cameras.Auditor
