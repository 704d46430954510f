// Package policy groups the rules of the product: zones and retention
// (policy/rules), and later users, roles, grants and the audit chain. It
// imports nothing from edge, hal or storage and never net/http (DESIGN.md
// §3; cmd/edgerec's layering test checks it).
package policy
