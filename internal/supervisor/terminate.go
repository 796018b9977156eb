package supervisor

import (
	"fmt"
	"slices"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// checkTermination applies allowProcessTermination/allowGroupTermination
// and allowForcedTermination (SPEC 3.8).
func (s *Supervisor) checkTermination(group, force bool) error {
	if !s.cfg.AllowProcessTermination && !group {
		return errcode.Deny(errcode.TerminationNotAllowed, layer.Termination, "termination is off in the policy (allowProcessTermination)",
			"terminating processes is not allowed")
	}
	if group && !s.cfg.AllowGroupTermination {
		return errcode.Deny(errcode.TerminationNotAllowed, layer.Termination, "group termination is off in the policy (allowGroupTermination)",
			"terminating groups is not allowed")
	}
	if force && !s.cfg.AllowForcedTermination {
		return errcode.Deny(errcode.TerminationNotAllowed, layer.Termination, "retry without force (allowForcedTermination is off)",
			"forced termination (SIGKILL) is not allowed")
	}
	return nil
}

// stopAndWait stops p's tree (SIGTERM, SIGKILL after timeout; SIGKILL at
// once when force) and waits for the reap. It reports whether p was running.
func (p *proc) stopAndWait(force bool, timeout time.Duration) bool {
	if p.isExited() {
		return false
	}
	if force {
		p.requestStop(ReasonKilled, 0)
	} else {
		p.requestStop(ReasonTerminated, timeout)
	}
	t := time.NewTimer(timeout + terminateWaitSlack)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C: // SIGKILL was sent long ago; the reap will come
	}
	return true
}

// Terminate stops agent's process pid and its whole tree (SPEC 3.8):
// SIGTERM to the process group, SIGKILL after timeout (<= 0: 5 s); force
// sends SIGKILL at once. An exited process's status is returned as is.
// caller labels the audit record (the front end's name for the request:
// an MCP tool, "run"); the supervisor knows no wire protocol.
func (s *Supervisor) Terminate(agent string, pid int, force bool, timeout time.Duration, caller string) (*TerminateResult, error) {
	if err := s.checkTermination(false, force); err != nil {
		return nil, err
	}
	p, err := s.lookup(agent, pid)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = defaultTermTimeout
	}
	stopped := p.stopAndWait(force, timeout)
	st := p.status(s.now())
	res := &TerminateResult{Pid: pid, ExitCode: st.ExitCode, Signal: st.Signal, TerminationReason: st.TerminationReason}
	if stopped {
		r := audit.Record{Event: audit.EventTerminate, Agent: agent, Tool: caller, PID: pid,
			Executable: st.Command, ExitCode: st.ExitCode, Signal: st.Signal, TerminationReason: st.TerminationReason,
			Reason: fmt.Sprintf("force=%v", force)}
		if err := s.record(r); err != nil {
			s.warnUnrecorded(r, err) // the termination stands (SPEC 7.2)
			res.AuditError = auditNotWritten(err)
		}
	}
	return res, nil
}

// group is a named set of one agent's processes.
type group struct {
	id, agent, name string
	pipeline        bool
	members         []*proc
}

func groupNotFound(id string) *errcode.Error {
	return errcode.Fail(errcode.ProcessNotFound, layer.Group, "create it with process_create_group", "no group %q", id)
}

// MaxNameBytes bounds a group's or a service's name (SPEC 7.2): names go
// into results and audit records.
const MaxNameBytes = 256

// checkName refuses a group or service name longer than MaxNameBytes.
func checkName(l layer.Layer, name string) error {
	if len(name) > MaxNameBytes {
		return errcode.Fail(errcode.InvalidInput, l, fmt.Sprintf("use a name of at most %d bytes", MaxNameBytes),
			"the %s name is %d bytes long", l, len(name))
	}
	return nil
}

// CreateGroup creates a group and returns its id ("g-1", ...). In a
// pipeline group each added member's stdin is fed the previous member's
// stdout. caller labels the audit record (an MCP tool).
func (s *Supervisor) CreateGroup(agent, name string, pipeline bool, caller string) (string, error) {
	if err := checkName("group", name); err != nil {
		return "", err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", errcode.Fail(errcode.Internal, layer.Group, "", "the server is shutting down")
	}
	if n := s.groupsOfLocked(agent); n >= maxGroupsPerAgent {
		s.mu.Unlock()
		return "", errcode.Deny(errcode.ConcurrencyLimit, layer.Group,
			"terminate the groups it no longer needs (process_terminate_group: an empty group is forgotten at once, one with members when their output's retention ends)",
			"the agent already holds %d groups, the most one agent may hold", n)
	}
	s.nextGroup++
	id := fmt.Sprintf("g-%d", s.nextGroup)
	s.groups[id] = &group{id: id, agent: agent, name: name, pipeline: pipeline}
	s.mu.Unlock()
	if err := s.record(audit.Record{Event: audit.EventGroup, Agent: agent, Tool: caller, GroupID: id,
		Reason: fmt.Sprintf("created %q pipeline=%v", name, pipeline)}); err != nil {
		return "", auditFailed(err)
	}
	return id, nil
}

// AddToGroup adds agent's process pid to group groupID. In a pipeline group
// the process must be running with a stdin pipe, and from now on the
// previous member's new stdout is copied into its stdin (and its stdin is
// closed when that stdout ends). caller labels the audit record.
func (s *Supervisor) AddToGroup(agent, groupID string, pid int, caller string) error {
	if err := s.addToGroup(agent, groupID, pid); err != nil {
		return err
	}
	if err := s.record(audit.Record{Event: audit.EventGroup, Agent: agent, Tool: caller, GroupID: groupID, PID: pid}); err != nil {
		return auditFailed(err)
	}
	return nil
}

func (s *Supervisor) addToGroup(agent, groupID string, pid int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupID]
	if g == nil || g.agent != agent {
		return groupNotFound(groupID)
	}
	p := s.procs[pid]
	if p == nil || p.agent != agent {
		return notFound(pid)
	}
	p.mu.Lock()
	cur, exited := p.groupID, p.exited
	p.mu.Unlock()
	if cur == groupID {
		return nil
	}
	if cur != "" {
		return errcode.Fail(errcode.InvalidInput, layer.Group, "", "process %d is already in group %s", pid, cur)
	}
	var prev *proc
	if g.pipeline && len(g.members) > 0 {
		prev = g.members[len(g.members)-1]
	}
	if g.pipeline {
		hasStdin := p.stdinOpen.Load()
		switch {
		case exited:
			return errcode.Fail(errcode.InvalidInput, layer.Group, "", "process %d has exited", pid)
		case prev != nil && !hasStdin:
			return errcode.Fail(errcode.InvalidInput, layer.Group, `start it with stdin "pipe"`,
				"process %d has no stdin pipe to feed", pid)
		case prev != nil && prev.out == nil:
			return errcode.Fail(errcode.InvalidInput, layer.Group, "start the previous member with captureOutput true",
				"process %d (the previous member) has no captured stdout to pipe", prev.pid)
		}
		if s.closed {
			return errcode.Fail(errcode.Internal, layer.Group, "", "the server is shutting down")
		}
	}
	p.mu.Lock()
	p.groupID = groupID
	p.mu.Unlock()
	g.members = append(g.members, p)
	if prev != nil {
		from := prev.out.read(0, 0, 0).total // new output only
		// Kept while the pipe copies its output: with a short
		// exitedRetentionSeconds the janitor would otherwise drop the
		// ring of a member that exited before the next one read it all.
		prev.reading.Add(1)
		s.wg.Add(1)
		go s.pipe(prev, from, p)
	}
	return nil
}

// pipe copies from's output (from offset off) into to's stdin until it
// ends (then it closes to's stdin), to exits, or the supervisor stops;
// then it lets go of from (reading, taken by addToGroup).
func (s *Supervisor) pipe(from *proc, off int64, to *proc) {
	defer s.wg.Done()
	defer from.reading.Add(-1)
	r := from.out
	for {
		ch := r.changed()
		rd := r.read(off, 64<<10, 0)
		if len(rd.data) > 0 {
			if _, err := to.writeStdin(rd.data, time.Time{}, s.stop); err != nil {
				return
			}
			off = rd.next
			continue
		}
		if rd.closed {
			to.closeStdin()
			return
		}
		select {
		case <-ch:
		case <-to.done:
			return
		case <-s.stop:
			return
		}
	}
}

// TerminateGroup terminates every running member's tree and returns their
// pids. auditErr is set when they were terminated but the record could not
// be written (SPEC 7.2). caller labels the audit record.
func (s *Supervisor) TerminateGroup(agent, groupID string, force bool, caller string) (pids []int, auditErr string, err error) {
	if err := s.checkTermination(true, force); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	g := s.groups[groupID]
	if g == nil || g.agent != agent {
		s.mu.Unlock()
		return nil, "", groupNotFound(groupID)
	}
	members := slices.Clone(g.members)
	if len(members) == 0 {
		delete(s.groups, groupID) // nothing to retain: an empty group is gone at once
	}
	s.mu.Unlock()
	var running []*proc
	for _, p := range members {
		if !p.isExited() {
			running = append(running, p)
		}
	}
	// Signal everyone first, then wait: the trees stop in parallel.
	for _, p := range running {
		if force {
			p.requestStop(ReasonKilled, 0)
		} else {
			p.requestStop(ReasonTerminated, defaultTermTimeout)
		}
	}
	pids = []int{}
	for _, p := range running {
		p.stopAndWait(force, defaultTermTimeout)
		pids = append(pids, p.pid)
	}
	r := audit.Record{Event: audit.EventTerminate, Agent: agent, Tool: caller, GroupID: groupID,
		Reason: fmt.Sprintf("terminated pids %v force=%v", pids, force)}
	if err := s.record(r); err != nil {
		s.warnUnrecorded(r, err) // the termination stands (SPEC 7.2)
		return pids, auditNotWritten(err), nil
	}
	return pids, "", nil
}

// maxGroupsPerAgent bounds the groups one agent holds at once: creating a
// group is not a launch (no launch quota or rate applies), and without a
// bound an agent could grow the server's memory with empty groups.
const maxGroupsPerAgent = 1024

// groupsOfLocked counts agent's groups. s.mu is held.
func (s *Supervisor) groupsOfLocked(agent string) int {
	n := 0
	for _, g := range s.groups {
		if g.agent == agent {
			n++
		}
	}
	return n
}
