// Command edgerec is the edge recorder: one static binary with the
// subcommands of README design §5. This package is the composition root: it is
// the only place that imports every other package and wires them together.
package main
