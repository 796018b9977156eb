package sandbox

// StageKind chooses what contains a launch (LauncherOptions.Stage).
type StageKind int

const (
	// StageAuto: the zygote for eligible launches when zygoteByDefault,
	// else a Go init stage.
	StageAuto StageKind = iota
	// StageGo: always a Go init stage (a re-exec per launch).
	StageGo
	// StageZygote: the zygote for every eligible launch (others use a
	// Go init stage).
	StageZygote
)
