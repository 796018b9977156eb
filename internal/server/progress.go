package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// progressNotifyTimeout bounds one progress notification: a client that
// stopped reading does not stall the run for longer.
const progressNotifyTimeout = time.Second

// progressSender turns process_run's progress updates into MCP progress
// notifications for the request's token (SPEC 7.4). progress is the
// milliseconds elapsed since the launch (it increases with every
// notification, as MCP requires); message is the new output lines
// (stderr's marked "[stderr] "), or a heartbeat line saying the process
// is still running.
func progressSender(ctx context.Context, ss *mcp.ServerSession, tok any) func(supervisor.Progress) {
	var last float64 = -1
	return func(u supervisor.Progress) {
		p := float64(u.Elapsed.Milliseconds())
		if p <= last {
			p = last + 1
		}
		last = p
		nctx, cancel := context.WithTimeout(ctx, progressNotifyTimeout)
		defer cancel()
		// Best effort: a failed notification does not fail the run.
		_ = ss.NotifyProgress(nctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: p, Message: progressMessage(u)})
	}
}

// progressMessage is the text of one progress notification.
func progressMessage(u supervisor.Progress) string {
	if u.Heartbeat() {
		return fmt.Sprintf("pid %d running, %ds elapsed, %d bytes of output so far", u.Pid, int(u.Elapsed.Seconds()), u.Total.Stdout+u.Total.Stderr)
	}
	var b strings.Builder
	skipped := func(n int64, stream string) {
		if n > 0 {
			fmt.Fprintf(&b, "[%d bytes of %s not shown: process_get_output has them]\n", n, stream)
		}
	}
	skipped(u.Skipped.Stdout, "stdout")
	b.WriteString(asText(u.Stdout))
	skipped(u.Skipped.Stderr, "stderr")
	if len(u.Stderr) > 0 {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
		for line := range strings.Lines(asText(u.Stderr)) {
			b.WriteString("[stderr] " + line)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}
