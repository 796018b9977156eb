// Package audit writes the hash-chained JSONL audit log (SPEC 3.12 and 6),
// verifies it, and sends signed security alerts to a webhook.
//
// Guarantees: every record written by Log.Record has seq (from 1, no gaps,
// continued across restarts and rotations), prevHash (64 zeros for the first
// record ever) and hash = hex SHA-256 of prevHash (as its 64-character hex
// text) followed by the RFC 8785 canonical JSON of the record without
// "hash". Record returns only after the record is on disk (fsync); a record
// that could not be written is an error, never dropped silently, and after
// a failed fsync the log refuses every further write. Security violations
// also go to a separate violation log (its own chain) and, with alerts on,
// to a bounded queue that one worker POSTs from: a slow or dead webhook
// never blocks or fails Record. Environment values are never logged (the
// record has names only). Records stay small: every field is capped
// (bound.go), and past Options.DenialsPerWindow denials per agent per
// window the further ones are summarised in one denials_summarized record
// (denials.go) — the one kind of record written after, not before, the
// call it stands for returns. Nothing here ever writes to stdout.
package audit

// Levels, lowest first (SPEC 6: debug = reads too; info = launches, exits,
// terminations, stdin, config; warn = violations; error = internal failures).
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// Events.
const (
	EventConfigLoaded      = "config_loaded"
	EventLaunch            = "launch"
	EventLaunchDenied      = "launch_denied"
	EventExit              = "exit"
	EventTerminate         = "terminate"
	EventStdin             = "stdin"
	EventSecurityViolation = "security_violation"
	EventApproval          = "approval"
	EventRead              = "read"
	EventService           = "service"
	EventGroup             = "group"
	EventInternalError     = "internal_error"
	EventServerStop        = "server_stop"
	// EventDenialsSummarized stands for the denials of one agent past the
	// per-window allowance (SPEC 7.2): count, codes, first and last.
	EventDenialsSummarized = "denials_summarized"
	// EventNetwork is an egress connection the network layer allowed
	// (layer "network"; a refused one is a security_violation);
	// EventNetworkClose its end, with the bytes relayed each way.
	EventNetwork      = "network"
	EventNetworkClose = "network_close"
	// EventNetworkSummarized stands for one launched tree's records of
	// allowed connections past its window's allowance (SPEC 7.2): count,
	// and the bytes of the closes each way.
	EventNetworkSummarized = "network_summarized"
)

// Record is one audit line. Time, Seq, PrevHash and Hash are filled in by
// Log.Record; the caller sets the rest. Empty fields are omitted.
type Record struct {
	Time              string   `json:"time"`
	Seq               uint64   `json:"seq"`
	Level             string   `json:"level"`
	Event             string   `json:"event"`
	Agent             string   `json:"agent,omitempty"`
	Tool              string   `json:"tool,omitempty"`
	PID               int      `json:"pid,omitempty"`
	Executable        string   `json:"executable,omitempty"`
	Args              []string `json:"args,omitempty"`
	Cwd               string   `json:"cwd,omitempty"`
	EnvNames          []string `json:"envNames,omitempty"` // names only: values are never logged
	Decision          string   `json:"decision,omitempty"` // "allow" or "deny" ("ask" for an approval question)
	Layer             string   `json:"layer,omitempty"`
	Reason            string   `json:"reason,omitempty"`
	Code              string   `json:"code,omitempty"`
	ExitCode          *int     `json:"exitCode,omitempty"`
	Signal            string   `json:"signal,omitempty"`
	TerminationReason string   `json:"terminationReason,omitempty"`
	Bytes             int      `json:"bytes,omitempty"`
	GroupID           string   `json:"groupId,omitempty"`
	ServiceID         string   `json:"serviceId,omitempty"`
	// Channel is how an approval question was asked and answered
	// (approval records: elicitation-form, mrtr-form, elicitation-url,
	// mrtr-url, auto).
	Channel string `json:"channel,omitempty"`
	// A denials_summarized record's figures: how many denials it stands
	// for, how many of each code, and the first and last of them.
	Count int            `json:"count,omitempty"`
	Codes map[string]int `json:"codes,omitempty"`
	First *DenialRef     `json:"first,omitempty"`
	Last  *DenialRef     `json:"last,omitempty"`
	// Network is the connection of a network-layer record.
	Network *NetworkRef `json:"network,omitempty"`
	// A checkpoint record's figures (head.go): how many records separate
	// checkpoints, and its signature by the auditSigningKeyFile key.
	Every        int    `json:"every,omitempty"`
	SignatureAlg string `json:"signatureAlg,omitempty"`
	Signature    string `json:"signature,omitempty"`
	PrevHash     string `json:"prevHash"`
	Hash         string `json:"hash"`
}

// NetworkRef is one egress connection or DNS query of a launched tree
// (SPEC 3.11): how the child asked (via: connect, http, socks5,
// transparent, dns), the name asked for or seen, the address and port,
// the allow or block entry that decided (rule; "default" when none did),
// and on a close record the bytes relayed each way.
type NetworkRef struct {
	Via         string `json:"via"`
	Destination string `json:"destination,omitempty"`
	IP          string `json:"ip,omitempty"`
	Port        int    `json:"port,omitempty"`
	Rule        string `json:"rule,omitempty"`
	BytesOut    *int64 `json:"bytesOut,omitempty"` // child to destination (close records)
	BytesIn     *int64 `json:"bytesIn,omitempty"`  // destination to child (close records)
}

// DenialRef identifies one summarised denial.
type DenialRef struct {
	Time       string `json:"time"`
	Event      string `json:"event"`
	Tool       string `json:"tool,omitempty"`
	Code       string `json:"code,omitempty"`
	Layer      string `json:"layer,omitempty"`
	Executable string `json:"executable,omitempty"`
	PID        int    `json:"pid,omitempty"`
}

// Recorder is what the rest of the server writes audit records through.
// Record fills Time/Seq/hashes, applies the level filter, writes and syncs;
// a non-nil error means the record is not on disk.
type Recorder interface {
	Record(r Record) error
}
