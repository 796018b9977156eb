//go:build linux

package sandbox

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// captureProbeArg makes this binary the probe of captureSupport for an
// unprivileged server: it runs in a user and network namespace of its own
// and asks nf_tables for its generation there (hostfeat.NFTables).
const captureProbeArg = "__mcp_process_nftables_probe"

func init() {
	if len(os.Args) == 2 && os.Args[1] == captureProbeArg {
		if err := hostfeat.NFTables(); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// captureSupport reports whether a child's namespace can have the
// transparent capture (nf_tables with NAT): probed once, in the server's
// own namespace for root, else in a probe child's user and network
// namespaces (an unprivileged server may not ask its own).
var captureSupport = sync.OnceValue(func() error {
	if os.Geteuid() == 0 {
		return hostfeat.NFTables()
	}
	cmd := exec.Command("/proc/self/exe", captureProbeArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: os.Geteuid(), HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: os.Getegid(), HostID: os.Getegid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
		AmbientCaps: []uintptr{unix.CAP_NET_ADMIN},
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	restore := dumpableWhile()
	err := cmd.Start()
	restore()
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return errors.New(msg)
		}
		return errors.New("nf_tables probe: " + err.Error())
	}
	return nil
})

// CaptureSupport reports whether children's namespaces get the transparent
// capture (nil) or why not, for doctor.
func CaptureSupport() error { return captureSupport() }

// readNet reads the stage's MsgNet and its listeners (FlagEgress), or, if
// the stage reports something else first (a failed step), that report.
// On MsgNet it returns kind MsgNet and the listeners.
func readNet(sock *os.File) (byte, *stage.StepError, *EgressListeners, error) {
	buf := make([]byte, 2)
	n, fds, err := recvRights(sock, buf, stage.NetFDs)
	if err != nil {
		return 0, nil, nil, err
	}
	if n == 0 {
		closeAll(fds)
		return 0, nil, nil, io.EOF
	}
	if buf[0] != stage.MsgNet {
		closeAll(fds)
		// Not ours: hand what was read back in front of the socket.
		kind, serr, err := readReport(io.MultiReader(strings.NewReader(string(buf[:n])), sock))
		return kind, serr, nil, err
	}
	if n == 1 {
		if _, err := io.ReadFull(sock, buf[1:]); err != nil {
			closeAll(fds)
			return 0, nil, nil, err
		}
	}
	if len(fds) != stage.NetFDs {
		closeAll(fds)
		return 0, nil, nil, errors.New("the init stage sent " + strconv.Itoa(len(fds)) + " egress descriptors, want " + strconv.Itoa(stage.NetFDs))
	}
	l, err := egressListeners(fds, buf[1]&stage.NetCaptured != 0)
	if err != nil {
		return 0, nil, nil, err
	}
	return stage.MsgNet, nil, l, nil
}

// recvRights reads one message from sock into buf, with up to maxFDs
// descriptors passed along it (received close-on-exec): the bytes read and
// the descriptors, which the caller owns.
func recvRights(sock *os.File, buf []byte, maxFDs int) (int, []int, error) {
	rc, err := sock.SyscallConn()
	if err != nil {
		return 0, nil, err
	}
	oob := make([]byte, unix.CmsgSpace(4*maxFDs))
	var n, oobn int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, nil, err
	}
	var fds []int
	if oobn > 0 {
		cmsgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if perr == nil {
			for _, m := range cmsgs {
				if more, err := unix.ParseUnixRights(&m); err == nil {
					fds = append(fds, more...)
				}
			}
		}
	}
	return n, fds, nil
}

// closeAll closes each of fds.
func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// egressListeners turns the stage's stage.NetFDs descriptors into the
// launch's listeners (in the order of stage.NetDNS, NetHTTP, ...); every
// descriptor is consumed, and on an error every listener made is closed.
func egressListeners(fds []int, captured bool) (*EgressListeners, error) {
	l := &EgressListeners{Captured: captured}
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "egress")
		var err error
		if i == stage.NetDNS {
			l.DNS, err = net.FilePacketConn(f)
		} else {
			var ln net.Listener
			ln, err = net.FileListener(f)
			switch i {
			case stage.NetHTTP:
				l.HTTP = ln
			case stage.NetSOCKS:
				l.SOCKS = ln
			case stage.NetTransparent:
				l.Transparent = ln
			}
		}
		f.Close()
		if err != nil {
			closeAll(fds[i+1:])
			l.Close()
			return nil, errors.New("egress descriptor " + strconv.Itoa(i) + ": " + err.Error())
		}
	}
	return l, nil
}
