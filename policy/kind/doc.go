// Package kind classifies errors by what a caller can do about them (issue
// 15): not found, forbidden, invalid input, conflict, refused by a rule,
// too many, unavailable. Packages define their sentinel errors with New, so
// errors.Is keeps matching them one by one, and a caller that only needs
// the class (the LAN page choosing an HTTP status) asks Of instead of
// listing every sentinel of every package.
//
// It lives under policy because policy may import nothing from edge, hal or
// storage, while edge may import policy: it is the one place both reach.
// It imports only the standard library.
package kind
