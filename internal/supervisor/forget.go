package supervisor

import "slices"

// forgetLinksLocked drops what still points at p when p is forgotten (its
// retention is over), so that nothing outlives its processes (SPEC 7.2):
// p leaves its group, and a group whose members are all forgotten is
// forgotten with them (a group that never had a member stays); a stopped
// or failed service whose last process is p is forgotten too (its name
// was already free for a new service). Before, both stayed for the
// server's life, each holding its last processes' records. s.mu is held.
func (s *Supervisor) forgetLinksLocked(p *proc) {
	for id, g := range s.groups {
		n := len(g.members)
		g.members = slices.DeleteFunc(g.members, func(m *proc) bool { return m == p })
		if n > 0 && len(g.members) == 0 {
			delete(s.groups, id)
		}
	}
	if p.serviceID == "" {
		return
	}
	key := serviceKey(p.agent, p.serviceID)
	if svc := s.services[key]; svc != nil && svc.forgettable(p) {
		delete(s.services, key)
	}
}

// forgettable reports whether svc is over (its manager returned, it is
// neither running nor restarting) and p is its last process.
func (svc *service) forgettable(p *proc) bool {
	select {
	case <-svc.finished:
	default:
		return false
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return svc.cur == p && svc.state != ServiceRunning && svc.state != ServiceRestarting
}
