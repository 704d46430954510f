package main

// reportedError is a failure already reported in one log line: dispatch
// exits 1 without printing it again.
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }
