package stage

// vmForkSupported: clone3Run exists for this architecture
// (sys_linux_amd64.s).
const vmForkSupported = true

// clone3Run starts a child sharing this address space that runs
// fn(ops, n, sock) on the stack args names, fn being runProgram's entry
// (sys_linux_amd64.s).
//
//go:noescape
func clone3Run(args *cloneArgs, size, fn uintptr, ops *op, n, sock uintptr) (pid, errno uintptr)
