package supervisor

// CheckTermination refuses a termination the policy forbids
// (allowProcessTermination, allowGroupTermination, allowForcedTermination),
// so that nobody is asked to confirm what would be refused anyway.
func (s *Supervisor) CheckTermination(group, force bool) error {
	return s.checkTermination(group, force)
}
