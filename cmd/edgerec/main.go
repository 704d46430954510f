package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/edgerec/edgerec/edge/codec"
)

// Set by the linker (-X main.version=… -X main.commit=…).
var (
	version = "dev"
	commit  = "unknown"
)

// exitUsage is the exit code for bad usage and for commands that are not
// built yet.
const exitUsage = 2

type command struct {
	name, args, help string
	run              func(ctx context.Context, env *env, args []string) error
}

// env is what a subcommand may touch of the process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

func commands() []command {
	return []command{
		{"run", "[--config FILE] [--demo]", "the recorder daemon", cmdRun},
		{"provision", "--data DIR --device-id ID [--ring-size SIZE] [--config FILE] [--restore BACKUP --restore-key KEY]", "create a device: keys, ring, config (or the replacement of a backed-up one)", cmdProvision},
		{"check", "--data DIR [--quick]", "verify ring, index, keys and the audit chain", cmdCheck},
		{"export", "--data DIR --grant ID --camera CAM --from T --to T -o OUT.mp4 --user NAME", "signed export under a grant", cmdExport},
		{"verify", "FILE [--key BASE64 | --fleet URL-or-FILE]", "verify an export or a wipe certificate offline", cmdVerify},
		{"decommission", "--data DIR --confirm DEVICE-ID --grant ID --user ADMIN [--cert OUT.json] [--passes N]", "secure wipe with a signed certificate", cmdDecommission},
		{"rekey", "--data DIR --user ADMIN [--key-provider P] [--tpm DEV]", "new root key; rewraps every key, footage untouched (recorder stopped)", cmdRekey},
		{"backup", "--data DIR --user ADMIN -o OUT.json", "signed device-state backup: config, users, audit (no video, no keys)", cmdBackup},
		{"fleet", "--broker URL [--json] | serve --broker URL --listen ADDR [--state FILE] [--share GROUP] | audit --device ID (--url URL | --state FILE)", "ops view of beacons; the central ops service; a gateway's audit chain", cmdFleet},
		{"selftest", "[--source URL] [--frames N]", "capture → mask → encode → decode on this box", cmdSelftest},
		{"version", "", "print version, commit, Go version, GOARCH and codec", cmdVersion},
		{"help", "", "list the commands", nil},
	}
}

// errNotImplemented marks a command that exists in the interface but is not
// built yet; it exits 2.
var errNotImplemented = errors.New("not implemented yet")

// usageError is bad usage: it exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func notImplemented(name string) func(context.Context, *env, []string) error {
	return func(context.Context, *env, []string) error {
		return fmt.Errorf("%s: %w", name, errNotImplemented)
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] || c.run == nil {
			continue
		}
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errNotImplemented):
			fmt.Fprintf(e.stderr, "edgerec: %v\n", err)
			return exitUsage
		case errors.As(err, new(usageError)):
			fmt.Fprintf(e.stderr, "edgerec %s: %v\n", c.name, err)
			return exitUsage
		case errors.As(err, new(reportedError)):
			return 1 // already said in one log line
		default:
			fmt.Fprintf(e.stderr, "edgerec %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "edgerec: unknown command %q (try: edgerec help)\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "edgerec — edge video recorder with on-device privacy masks")
	fmt.Fprintln(w, "\nUsage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  edgerec %-12s %-62s %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintln(w, "\nTimes are RFC 3339. Exit 0 on success, 1 on failure, 2 on bad usage or a command not built yet.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: edgerec %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func cmdVersion(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "version", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "edgerec %s\ncommit  %s\ngo      %s\narch    %s/%s\ncodec   %s\n",
		version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, codec.Name)
	return nil
}
