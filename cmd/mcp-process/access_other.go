//go:build !unix

package main

import "github.com/mcp-process/mcp-process/internal/agenthome"

// childAccess: there are no children with other ids off Unix.
func childAccess(string, uint32, uint32) (enter, write bool, why string) { return true, true, "" }

// childMayWrite: off Unix, assume the children may write dir.
func childMayWrite(string, agenthome.Owner) bool { return true }

// ownedBy: off Unix, assume so.
func ownedBy(string, uint32) bool { return true }
