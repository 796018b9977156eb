//go:build !unix

package main

// childAccess: there are no children with other ids off Unix.
func childAccess(string, uint32, uint32) (enter, write bool, why string) { return true, true, "" }
