//go:build linux

// Over 500 lines on purpose: the network steps and the netlink and
// nftables messages only they send, built by hand because the stage may
// import nothing but unsafe and runtime (imports_test.go); the capture
// rules are read next to the step that installs them.

package stage

import (
	"runtime"
	"unsafe"
)

// The network steps (SPEC 3.11, 7.5). The stage is in a network namespace
// of its own with only lo, up. For FlagEgress it opens the egress
// listeners inside it (an unprivileged server cannot enter a namespace
// owned by its child's user namespace, so the descriptors must come from
// inside), installs the transparent capture (nftables in the namespace: a
// connection to any address but loopback is redirected to the transparent
// listener, every UDP packet to port 53 to the name server, anything else
// not addressed to loopback dropped) and the default route through lo that
// lets such connections reach the capture, then sends the listeners to the
// parent. Where the kernel has no nf_tables the capture is left out, and
// with it the route: a direct connection then fails at once (no route),
// only the explicit proxies are reachable.

const (
	sockStream       = 1
	sockRaw          = 3
	afNetlink        = 16
	netlinkRoute     = 0
	netlinkNetfilter = 12
	oWRONLY          = 0x1
	oCREAT           = 0x40
	oTRUNC           = 0x200
	eNOSPC           = 28
)

// egressCaptured records that the capture is in place (restrictNet).
var egressCaptured bool

// sockaddrIn is struct sockaddr_in.
type sockaddrIn struct {
	family uint16
	port   [2]byte // network byte order
	addr   [4]byte
	zero   [8]byte
}

// loopbackSocket opens a close-on-exec socket of type typ bound to
// 127.0.0.1:port, listening if it is a stream socket.
func loopbackSocket(typ uintptr, port uint16) (int, uintptr) {
	s, e := rawSyscall6(nrSocket, afInet, typ|sockCloexec, 0, 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	sa := sockaddrIn{family: afInet, port: [2]byte{byte(port >> 8), byte(port)}, addr: [4]byte{127, 0, 0, 1}}
	_, e = rawSyscall6(nrBind, s, uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa), 0, 0, 0)
	runtime.KeepAlive(&sa)
	if e == 0 && typ == sockStream {
		_, e = rawSyscall6(nrListen, s, 4096, 0, 0, 0, 0)
	}
	if e != 0 {
		sysClose(int(s))
		return -1, e
	}
	return int(s), 0
}

// egressEarly: the stage was started with ArgEgress (isStage).
var egressEarly bool

// prepared is what prepareEgress opened: the listeners, the capture's
// status, or the step that failed (reported by setupEgress).
var prepared struct {
	done   bool
	fds    [NetFDs]int
	status byte
	err    *StepError
}

// prepareEgress raises lo, opens the listeners and installs the capture,
// keeping them for setupEgress.
func prepareEgress() {
	prepared.done = true
	if prepared.err = raiseLoopback(&Config{Flags: FlagLoopback}); prepared.err != nil {
		return
	}
	socks := [NetFDs]struct {
		typ  uintptr
		port uint16
	}{{sockStream, EgressHTTPPort}, {sockStream, EgressSOCKSPort}, {sockStream, EgressTransparentPort}, {sockDgram, EgressDNSPort}}
	for i, s := range socks {
		fd, e := loopbackSocket(s.typ, s.port)
		if e != 0 {
			for _, fd := range prepared.fds[:i] {
				sysClose(fd)
			}
			prepared.err = &StepError{Step: StepEgress, Errno: e, Detail: "listen on 127.0.0.1:" + utoa(uint64(s.port)) + " in the child's network namespace"}
			return
		}
		prepared.fds[i] = fd
	}
	if installCapture() == 0 {
		prepared.status |= NetCaptured
	}
}

// setupEgress sends the listeners (opened now, or by prepareEgress) to the
// parent (MsgNet) and shows resolvConf as /etc/resolv.conf. The stage's own
// copies are closed once sent.
func setupEgress(c *Config) *StepError {
	if c.Flags&FlagEgress == 0 {
		if prepared.done && prepared.err == nil {
			for _, fd := range prepared.fds {
				sysClose(fd)
			}
		}
		return nil
	}
	if !prepared.done {
		prepareEgress()
	}
	if prepared.err != nil {
		return prepared.err
	}
	egressCaptured = prepared.status&NetCaptured != 0
	e := sendFDs(sock, []byte{MsgNet, prepared.status}, prepared.fds[:])
	for _, fd := range prepared.fds {
		sysClose(fd)
	}
	if e != 0 {
		return &StepError{Step: StepEgress, Errno: e, Detail: "send the egress listeners to the server"}
	}
	return mountResolv(c)
}

// sendFDs writes b on fd with fds attached (SCM_RIGHTS).
func sendFDs(fd int, b []byte, fds []int) uintptr {
	var ctl [8]uintptr // room for NetFDs descriptors; aligned
	base := unsafe.Pointer(&ctl[0])
	sz := unsafe.Sizeof(uintptr(0))
	l := cmsgHdrLen + uintptr(4*len(fds))
	*(*uintptr)(base) = l
	*(*int32)(unsafe.Add(base, sz)) = solSocket
	*(*int32)(unsafe.Add(base, sz+4)) = scmRights
	for i, f := range fds {
		*(*int32)(unsafe.Add(base, cmsgHdrLen+uintptr(4*i))) = int32(f)
	}
	iov := iovec{base: &b[0], len: uintptr(len(b))}
	msg := msghdr{iov: &iov, iovlen: 1, control: (*byte)(base), controllen: cmsgAlign(l)}
	var e uintptr
	for {
		_, e = rawSyscall6(nrSendmsg, uintptr(fd), uintptr(unsafe.Pointer(&msg)), msgNosignal, 0, 0, 0)
		if e != eINTR {
			break
		}
	}
	runtime.KeepAlive(b)
	runtime.KeepAlive(&iov)
	runtime.KeepAlive(&ctl)
	return e
}

const msgNosignal = 0x4000

// resolvConf is the child's /etc/resolv.conf: the name server inside its
// namespace (the server's, through the DNS listener).
const resolvConf = "# mcp-process: names resolve through the server's egress policy\nnameserver 127.0.0.1\noptions edns0\n"

// mountResolv shows resolvConf as /etc/resolv.conf, once the mounts are
// done (a jail entered, the private view in place): the file is written
// into the child's private /run (a tmpfs of its own, never the host's or
// the jail's disk) and bound onto /etc/resolv.conf (the file it links to,
// on a host where it is a link). Without a private /run, or without
// /etc/resolv.conf, nothing is bound: the C library's default name server
// is 127.0.0.1 anyway.
func mountResolv(c *Config) *StepError {
	if c.Flags&FlagMountNS == 0 || !contains(c.Private, "/run") {
		return nil
	}
	path := "/run/.mcp-process-resolv.conf"
	p := cstring(path)
	fd, e := rawSyscall6(nrOpenat, atFDCWD, uintptr(unsafe.Pointer(&p[0])), oWRONLY|oCREAT|oTRUNC|oCLOEXEC, 0o444, 0, 0)
	runtime.KeepAlive(p)
	if e == eNOENT {
		return nil // no /run in the jail
	}
	if e != 0 {
		return &StepError{Step: StepEgress, Errno: e, Detail: "write " + path}
	}
	b := []byte(resolvConf)
	n, e := sysWrite(int(fd), b)
	sysClose(int(fd))
	if e == 0 && n != len(b) {
		e = eNOSPC
	}
	if e != 0 {
		return &StepError{Step: StepEgress, Errno: e, Detail: "write " + path}
	}
	// The mounts are done and a jail entered: these are the child's
	// paths, and a link (a host's /etc/resolv.conf into /run/systemd)
	// resolves inside its view (by path: a jail may have no /proc).
	e = sysMount(path, "/etc/resolv.conf", "", msBind, "")
	if e == eNOENT {
		return nil
	}
	if e != 0 {
		return &StepError{Step: StepEgress, Errno: e, Detail: "bind " + path + " onto /etc/resolv.conf"}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// installCapture installs the nftables rules and then the default route
// through lo; it returns the first error (0: both in place). A failed
// batch leaves no rule (nftables applies a batch whole or not at all);
// rules without the route capture nothing (no route: nothing to capture).
func installCapture() uintptr {
	if e := netlinkDo(netlinkNetfilter, captureBatch()); e != 0 {
		return e
	}
	return netlinkDo(netlinkRoute, defaultRouteMsg())
}

// netlinkDo sends msgs (each with NLM_F_ACK) on a new netlink socket of
// protocol proto and waits for every acknowledgement; it returns the
// first error reported.
func netlinkDo(proto uintptr, msgs []byte) uintptr {
	s, e := rawSyscall6(nrSocket, afNetlink, sockRaw|sockCloexec, proto, 0, 0, 0)
	if e != 0 {
		return e
	}
	defer sysClose(int(s))
	want := 0
	for off := 0; off+16 <= len(msgs); {
		l := int(getU32(msgs[off:]))
		flags := uint16(msgs[off+6]) | uint16(msgs[off+7])<<8
		if flags&nlmFAck != 0 {
			want++
		}
		off += l
	}
	_, e = rawSyscall6(nrSendto, s, uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
	runtime.KeepAlive(msgs)
	if e != 0 {
		return e
	}
	buf := make([]byte, 8192)
	for want > 0 {
		n, e := blockingSyscall6(nrRecvfrom, s, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
		runtime.KeepAlive(buf)
		if e == eINTR {
			continue
		}
		if e != 0 {
			return e
		}
		for off := 0; off+16 <= int(n); {
			l := int(getU32(buf[off:]))
			if l < 16 || off+l > int(n) {
				return eINVAL
			}
			if typ := uint16(buf[off+4]) | uint16(buf[off+5])<<8; typ == nlmsgError && l >= 20 {
				if errno := int32(getU32(buf[off+16:])); errno != 0 {
					return uintptr(-errno)
				}
				want--
			}
			off += (l + 3) &^ 3
		}
	}
	return 0
}

// Netlink and nf_tables constants (linux/netlink.h, rtnetlink.h,
// netfilter/nfnetlink.h, netfilter/nf_tables.h).
const (
	nlmFRequest = 0x1
	nlmFAck     = 0x4
	nlmFExcl    = 0x200
	nlmFCreate  = 0x400
	nlmFAppend  = 0x800
	nlmsgError  = 2
	nlaFNested  = 0x8000

	rtmNewroute = 24
	rtaOif      = 4
	rtaPrefsrc  = 7

	nfnlSubsysNftables = 10
	nfnlMsgBatchBegin  = 0x10
	nfnlMsgBatchEnd    = 0x11
	nftMsgNewtable     = 0
	nftMsgNewchain     = 3
	nftMsgNewrule      = 6
	nfprotoIPv4        = 2
	nfInetLocalOut     = 3

	nftaTableName   = 1
	nftaChainTable  = 1
	nftaChainName   = 3
	nftaChainHook   = 4
	nftaChainPolicy = 5
	nftaChainType   = 7
	nftaHookNum     = 1
	nftaHookPrio    = 2
	nftaRuleTable   = 1
	nftaRuleChain   = 2
	nftaRuleExprs   = 4
	nftaListElem    = 1
	nftaExprName    = 1
	nftaExprData    = 2
	nftaDataValue   = 1
	nftaDataVerdict = 2
	nftaVerdictCode = 1

	nftReg1       = 1
	nftRegVerdict = 0
	nfDrop        = 0
	nfAccept      = 1
	nftCmpEq      = 0
	nftCmpNeq     = 1
)

// nlb builds netlink messages.
type nlb struct {
	b   []byte
	seq uint32
}

func (n *nlb) pad() {
	for len(n.b)%4 != 0 {
		n.b = append(n.b, 0)
	}
}

// msg starts a message; done ends it.
func (n *nlb) msg(typ, flags uint16) int {
	n.seq++
	off := len(n.b)
	n.b = appendU32(n.b, 0)
	n.b = append(n.b, byte(typ), byte(typ>>8), byte(flags), byte(flags>>8))
	n.b = appendU32(n.b, n.seq)
	n.b = appendU32(n.b, 0)
	return off
}

func (n *nlb) done(off int) {
	n.pad()
	putU32(n.b[off:], uint32(len(n.b)-off))
}

// nfmsg starts an nf_tables message (struct nfgenmsg after the header).
func (n *nlb) nfmsg(typ, flags uint16, family byte, resID uint16) int {
	off := n.msg(typ, flags)
	n.b = append(n.b, family, 0, byte(resID>>8), byte(resID))
	return off
}

func (n *nlb) attr(typ uint16, v []byte) {
	l := 4 + len(v)
	n.b = append(n.b, byte(l), byte(l>>8), byte(typ), byte(typ>>8))
	n.b = append(n.b, v...)
	n.pad()
}

func (n *nlb) str(typ uint16, s string) { n.attr(typ, append([]byte(s), 0)) }

func (n *nlb) be32(typ uint16, v uint32) {
	n.attr(typ, []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (n *nlb) nest(typ uint16) int {
	off := len(n.b)
	typ |= nlaFNested
	n.b = append(n.b, 0, 0, byte(typ), byte(typ>>8))
	return off
}

func (n *nlb) end(off int) {
	l := len(n.b) - off
	n.b[off], n.b[off+1] = byte(l), byte(l>>8)
}

// data is an nft_data attribute holding the value v.
func (n *nlb) data(typ uint16, v []byte) {
	o := n.nest(typ)
	n.attr(nftaDataValue, v)
	n.end(o)
}

// expr appends one expression of a rule.
func (n *nlb) expr(name string, body func()) {
	e := n.nest(nftaListElem)
	n.str(nftaExprName, name)
	d := n.nest(nftaExprData)
	body()
	n.end(d)
	n.end(e)
}

// The expressions the rules use, all on register 1.
func (n *nlb) loadDaddr() {
	n.expr("payload", func() {
		n.be32(1, nftReg1) // NFTA_PAYLOAD_DREG
		n.be32(2, 1)       // NFTA_PAYLOAD_BASE: network header
		n.be32(3, 16)      // NFTA_PAYLOAD_OFFSET: daddr
		n.be32(4, 4)       // NFTA_PAYLOAD_LEN
	})
	n.expr("bitwise", func() { // & 255.0.0.0: the /8
		n.be32(1, nftReg1) // NFTA_BITWISE_SREG
		n.be32(2, nftReg1) // NFTA_BITWISE_DREG
		n.be32(3, 4)       // NFTA_BITWISE_LEN
		n.data(4, []byte{255, 0, 0, 0})
		n.data(5, []byte{0, 0, 0, 0})
	})
}

func (n *nlb) cmp(op uint32, v []byte) {
	n.expr("cmp", func() {
		n.be32(1, nftReg1) // NFTA_CMP_SREG
		n.be32(2, op)      // NFTA_CMP_OP
		n.data(3, v)       // NFTA_CMP_DATA
	})
}

func (n *nlb) l4proto(p byte) {
	n.expr("meta", func() {
		n.be32(1, nftReg1) // NFTA_META_DREG
		n.be32(2, 16)      // NFTA_META_KEY: NFT_META_L4PROTO
	})
	n.cmp(nftCmpEq, []byte{p})
}

func (n *nlb) dport(port uint16) {
	n.expr("payload", func() {
		n.be32(1, nftReg1)
		n.be32(2, 2) // transport header
		n.be32(3, 2) // destination port
		n.be32(4, 2)
	})
	n.cmp(nftCmpEq, []byte{byte(port >> 8), byte(port)})
}

func (n *nlb) verdict(code uint32) {
	n.expr("immediate", func() {
		n.be32(1, nftRegVerdict) // NFTA_IMMEDIATE_DREG
		o := n.nest(2)           // NFTA_IMMEDIATE_DATA
		v := n.nest(nftaDataVerdict)
		n.be32(nftaVerdictCode, code)
		n.end(v)
		n.end(o)
	})
}

func (n *nlb) redirect(port uint16) {
	n.expr("immediate", func() {
		n.be32(1, nftReg1)
		n.data(2, []byte{byte(port >> 8), byte(port)})
	})
	n.expr("redir", func() {
		n.be32(1, nftReg1) // NFTA_REDIR_REG_PROTO_MIN
	})
}

const (
	captureTable  = "mcp_process"
	captureNat    = "output_nat"
	captureFilter = "output_filter"
)

// captureBatch is the ruleset, one nf_tables batch:
//
//	table ip mcp_process {
//	  chain output_nat { type nat hook output priority -100;
//	    ip daddr 127.0.0.0/8 accept
//	    meta l4proto udp udp dport 53 redirect to :53
//	    meta l4proto tcp redirect to :3129 }
//	  chain output_filter { type filter hook output priority 0;
//	    ip daddr != 127.0.0.0/8 drop }
//	}
//
// The filter chain sees each packet after the redirect: what was not
// redirected to loopback (ICMP, raw IP, UDP to another port) is dropped.
func captureBatch() []byte {
	n := &nlb{}
	const nft = nfnlSubsysNftables << 8
	create := uint16(nlmFRequest | nlmFCreate | nlmFAck)
	n.done(n.nfmsg(nfnlMsgBatchBegin, nlmFRequest, 0, nfnlSubsysNftables))

	o := n.nfmsg(nft|nftMsgNewtable, create, nfprotoIPv4, 0)
	n.str(nftaTableName, captureTable)
	n.done(o)

	chain := func(name, typ string, prio int32) {
		o := n.nfmsg(nft|nftMsgNewchain, create, nfprotoIPv4, 0)
		n.str(nftaChainTable, captureTable)
		n.str(nftaChainName, name)
		h := n.nest(nftaChainHook)
		n.be32(nftaHookNum, nfInetLocalOut)
		n.be32(nftaHookPrio, uint32(prio))
		n.end(h)
		n.be32(nftaChainPolicy, nfAccept)
		n.str(nftaChainType, typ)
		n.done(o)
	}
	chain(captureNat, "nat", -100)
	chain(captureFilter, "filter", 0)

	rule := func(chain string, exprs func()) {
		o := n.nfmsg(nft|nftMsgNewrule, create|nlmFAppend, nfprotoIPv4, 0)
		n.str(nftaRuleTable, captureTable)
		n.str(nftaRuleChain, chain)
		l := n.nest(nftaRuleExprs)
		exprs()
		n.end(l)
		n.done(o)
	}
	rule(captureNat, func() {
		n.loadDaddr()
		n.cmp(nftCmpEq, []byte{127, 0, 0, 0})
		n.verdict(nfAccept)
	})
	rule(captureNat, func() {
		n.l4proto(17)
		n.dport(53)
		n.redirect(EgressDNSPort)
	})
	rule(captureNat, func() {
		n.l4proto(6)
		n.redirect(EgressTransparentPort)
	})
	rule(captureFilter, func() {
		n.loadDaddr()
		n.cmp(nftCmpNeq, []byte{127, 0, 0, 0})
		n.verdict(nfDrop)
	})
	n.done(n.nfmsg(nfnlMsgBatchEnd, nlmFRequest, 0, nfnlSubsysNftables))
	return n.b
}

// defaultRouteMsg is "ip route add default dev lo src 127.0.0.1": every
// address is reachable, through lo, where the capture takes it.
func defaultRouteMsg() []byte {
	n := &nlb{}
	o := n.msg(rtmNewroute, nlmFRequest|nlmFAck|nlmFCreate|nlmFExcl)
	// struct rtmsg: family, dst_len, src_len, tos, table (main), protocol
	// (static), scope (link), type (unicast), u32 flags.
	n.b = append(n.b, afInet, 0, 0, 0, 254, 4, 253, 1, 0, 0, 0, 0)
	n.attr(rtaOif, appendU32(nil, 1)) // lo is interface 1 in every namespace
	n.attr(rtaPrefsrc, []byte{127, 0, 0, 1})
	n.done(o)
	return n.b
}

// Landlock's TCP rights and rule type (linux/landlock.h, ABI 4).
const (
	llConnectTCP        = 1 << 1
	landlockRuleNetPort = 2
)

// restrictNet adds a Landlock domain that handles TCP connect under
// FlagEgress without the capture: only the egress listeners' ports (and
// 53). With the capture, connect stays free:
// Landlock sees the address the program asked for, before the redirect,
// and would refuse the very connections the capture exists to take. On a
// kernel without Landlock TCP rules (ABI < 4) the namespace holds alone.
func restrictNet(c *Config) *StepError {
	var ports []uint16
	if c.Flags&FlagEgress == 0 || egressCaptured {
		return nil
	}
	ports = []uint16{EgressHTTPPort, EgressSOCKSPort, EgressDNSPort}
	abi, e := rawSyscall6(nrLandlockCreateRuleset, 0, 0, landlockCreateRulesetVersion, 0, 0, 0)
	if e != 0 || abi < 4 {
		return nil
	}
	attr := [2]uint64{0, llConnectTCP} // handled_access_fs, handled_access_net
	if otherFSLayer(c) {
		attr[0] = referRight(abi) // links and renames stay the write layer's to decide (landlock_linux.go)
	}
	rs, e := rawSyscall6(nrLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0, 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return &StepError{Step: StepNetRules, Errno: e, Detail: "landlock_create_ruleset (TCP connect)"}
	}
	defer sysClose(int(rs))
	if attr[0] != 0 {
		if e := grantRefer(int(rs)); e != 0 {
			return &StepError{Step: StepNetRules, Errno: e, Detail: "landlock_add_rule / (links and renames)"}
		}
	}
	for _, p := range ports {
		rule := [2]uint64{llConnectTCP, uint64(p)} // struct landlock_net_port_attr
		_, e := rawSyscall6(nrLandlockAddRule, rs, landlockRuleNetPort, uintptr(unsafe.Pointer(&rule)), 0, 0, 0)
		runtime.KeepAlive(&rule)
		if e != 0 {
			return &StepError{Step: StepNetRules, Errno: e, Detail: "landlock_add_rule connect port " + utoa(uint64(p))}
		}
	}
	if _, e := rawSyscall6(nrLandlockRestrictSelf, rs, 0, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepNetRules, Errno: e, Detail: "landlock_restrict_self (TCP connect)"}
	}
	return nil
}
