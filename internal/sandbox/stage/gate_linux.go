//go:build linux

package stage

// awaitGo tells the parent every step so far succeeded and blocks until it
// says "go". EOF (the parent closed the socket, or died) means no.
func awaitGo() *StepError {
	writeAll(sock, []byte{MsgReady})
	b, ok, e := awaitByte(sock)
	if e != 0 {
		return &StepError{Step: StepGate, Errno: e, Detail: "read the go byte"}
	}
	if !ok || b != MsgGo {
		return &StepError{Step: StepGate, Detail: "the launch was withdrawn"}
	}
	return nil
}
