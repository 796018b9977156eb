//go:build linux

package hostfeat

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// NFTables asks nf_tables, in the calling process's network namespace,
// for its ruleset generation (NFT_MSG_GETGEN): nil if nf_tables answers.
// It runs at each call (the namespace is the caller's).
func NFTables() error {
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
