// Command gen writes policy/PERMISSIONS.md from perm.Table (go generate), so
// the documented permission matrix and the enforced one are the same data.
package main
