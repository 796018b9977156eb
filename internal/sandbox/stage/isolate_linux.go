//go:build linux

package stage

// The isolation steps of contain(). The namespaces themselves are created
// by the launcher when it clones the stage (clone flags, user namespace
// maps); these functions do what must happen inside them. Every function
// runs on the stage's main thread (the runtime keeps the main goroutine
// there during package initialisation), which is the thread that execs:
// per-thread attributes (capabilities, no_new_privs, Landlock domain,
// seccomp filter, LSM exec attribute) set here are the target's.

const (
	msRdonly    = 0x1
	msNosuid    = 0x2
	msNodev     = 0x4
	msNoexec    = 0x8
	msRemount   = 0x20
	msBind      = 0x1000
	msRec       = 0x4000
	msPrivate   = 1 << 18
	mntDetach   = 2
	atRecursive = 0x8000
	mountAttrRO = 0x1
	oPath       = 0x200000
	oWronly     = 0x1

	prCapbsetDrop     = 24
	prSetNoNewPrivs   = 38
	prCapAmbient      = 47
	prCapAmbientRaise = 2
	prCapAmbientClear = 4
	capSetpcap        = 8
	prSetPdeathsig    = 1
	prSetDumpable     = 4
	prSetKeepcaps     = 8
	sigKILL           = 9
	capVersion3       = 0x20080522

	afInet       = 2
	sockDgram    = 2
	sockCloexec  = 0x80000
	siocgifflags = 0x8913
	siocsifflags = 0x8914
	iffUp        = 0x1

	seccompSetModeFilter = 1

	landlockCreateRulesetVersion = 1
	landlockRulePathBeneath      = 1
)
