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

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// captureProbeArg makes this binary the probe of captureSupport for an
// unprivileged server: it runs in a user and network namespace of its own
// and asks nf_tables for its generation there.
const captureProbeArg = "__mcp_process_nftables_probe"

func init() {
	if len(os.Args) == 2 && os.Args[1] == captureProbeArg {
		if err := nftablesGen(); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// nftablesGen asks nf_tables, in this process's network namespace, for
// its ruleset generation (NFT_MSG_GETGEN): nil if nf_tables answers.
func nftablesGen() error {
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return errors.New("no nfnetlink in this kernel (" + err.Error() + ")")
	}
	defer unix.Close(s)
	const getGen = 10<<8 | 16 // NFNL_SUBSYS_NFTABLES, NFT_MSG_GETGEN
	msg := []byte{20, 0, 0, 0, byte(getGen & 0xff), byte(getGen >> 8), unix.NLM_F_REQUEST | unix.NLM_F_ACK, 0, 1, 0, 0, 0, 0, 0, 0, 0, unix.AF_UNSPEC, 0, 0, 0}
	if err := unix.Sendto(s, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return errors.New("nf_tables: " + err.Error())
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(s, buf, 0)
	if err != nil {
		return errors.New("nf_tables: " + err.Error())
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil || len(msgs) == 0 {
		return errors.New("nf_tables: malformed answer")
	}
	for _, m := range msgs {
		if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
			if errno := int32(uint32(m.Data[0]) | uint32(m.Data[1])<<8 | uint32(m.Data[2])<<16 | uint32(m.Data[3])<<24); errno != 0 {
				return errors.New("no nf_tables in this kernel (" + syscall.Errno(-errno).Error() + ")")
			}
		}
	}
	return nil
}

// captureSupport reports whether a child's namespace can have the
// transparent capture (nf_tables with NAT): probed once, in the server's
// own namespace for root, else in a probe child's user and network
// namespaces (an unprivileged server may not ask its own).
var captureSupport = sync.OnceValue(func() error {
	if os.Geteuid() == 0 {
		return nftablesGen()
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

// netRulesSupport reports whether Landlock can restrict TCP connect (ABI 4+).
var netRulesSupport = sync.OnceValue(func() error {
	abi, err := config.LandlockABI()
	if err != nil {
		return err
	}
	if abi < 4 {
		return errors.New("Landlock ABI " + strconv.Itoa(abi) + " has no TCP rules (needs 4)")
	}
	return nil
})

// CaptureSupport reports whether children's namespaces get the transparent
// capture (nil) or why not, for doctor.
func CaptureSupport() error { return captureSupport() }

// NetRulesSupport reports whether Landlock's TCP connect rules apply (nil)
// or why not, for doctor.
func NetRulesSupport() error { return netRulesSupport() }

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
