//go:build race

package policy

// raceEnabled shortens the adversary property test under the race
// detector (10× slower); `make test` also runs it in full without -race.
const raceEnabled = true
