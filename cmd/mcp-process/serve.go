package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcp-process/mcp-process/internal/approval"
	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"github.com/mcp-process/mcp-process/internal/server"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

var timeNow = time.Now

// shutdownGrace bounds how long stopping every child may take at exit.
const shutdownGrace = 10 * time.Second

// serveFlags are serve's command line.
type serveFlags struct {
	common   commonFlags
	log      logFlags
	agentID  string
	httpAddr string
}

// parseServeFlags reads serve's command line.
func parseServeFlags(args []string) (*serveFlags, error) {
	fs := newFlagSet("serve")
	var sf serveFlags
	sf.common.register(fs)
	fs.StringVar(&sf.agentID, "agent-id", "", "agent id of the stdio session (default: the client's name)")
	fs.StringVar(&sf.httpAddr, "http", "", "serve Streamable HTTP on `ADDR` (host:port) at /mcp instead of stdio")
	sf.log.register(fs, "info")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, exitf(2, "serve: unexpected argument %q", fs.Arg(0))
	}
	return &sf, nil
}

// cmdServe runs the MCP server until its session ends (EOF on stdin, a
// signal, an error), then stops every child and service.
func cmdServe(args []string, stdin io.ReadCloser, stdout, stderr io.Writer) error {
	sf, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	logger, err := sf.log.logger(stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(logger) // the supervisor's unwritable audit records (an exit's, a termination's) are logged here
	sv, err := startServing(sf, logger)
	if err != nil {
		return err
	}
	defer sv.close()
	cfg := sv.loaded.Config

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// A client that closes its end of stdout must not kill the server with
	// SIGPIPE before it has stopped every child: handled (not ignored, which
	// children would inherit), a write to the closed pipe fails with EPIPE,
	// the session ends and the shutdown below runs.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	warnAtStart(cfg, logger)
	logger.Info("mcp-process serving", "config", sv.loaded.Source, "transport", transportName(sf.httpAddr), "audit", auditPath(cfg.EnableAuditLog, cfg.AuditLogPath))

	if sf.httpAddr != "" {
		err = serveHTTP(ctx, sv.srv, sv.appr, sf.httpAddr, logger, len(cfg.Agents) == 0)
	} else {
		stopPages, perr := serveApprovalPages(sv.appr, logger)
		if perr != nil {
			return perr
		}
		defer stopPages()
		// stdout is the JSON-RPC stream: the server never writes anything else to it.
		err = sv.srv.ServeStdio(ctx, stdin, nopCloser{stdout})
	}
	// Whatever ended the session (EOF on stdin, a signal, an error), every
	// child and service is stopped before the process exits.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	sv.sup.Shutdown(sctx)
	cancel()
	_ = sv.alog.Record(audit.Record{Level: audit.LevelInfo, Event: audit.EventServerStop, Agent: sf.agentID})
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		logger.Error("session ended with an error", "err", err)
	}
	return nil
}

// serving is what serve runs on: the policy loaded, the audit log, the
// cgroup manager, the supervisor, the approval layer and the MCP server.
type serving struct {
	loaded *config.Loaded
	alog   *audit.Log
	cg     *cgroup.Manager
	sup    *supervisor.Supervisor
	srv    *server.Server
	appr   *approval.Approver
}

// startServing loads the policy and builds what serve runs on, in order:
// the homes (before the audit log: its directory is the state directory
// the homes live under, which the children must be able to traverse), the
// watch on the config's sources, the audit log, the cgroups and the trees
// held, the server. On an error, what was opened is closed.
func startServing(sf *serveFlags, logger *slog.Logger) (_ *serving, err error) {
	sv := &serving{}
	defer func() {
		if err != nil {
			sv.close()
		}
	}()
	loaded, pol, err := loadPolicy(sf.common)
	if err != nil {
		return nil, err
	}
	sv.loaded = loaded
	cfg := loaded.Config
	if sf.httpAddr != "" {
		if err := checkHTTPBind(sf.httpAddr, len(cfg.Agents) > 0, geteuid() == 0); err != nil {
			return nil, err
		}
	}
	if err := prepareHomes(cfg, pol); err != nil {
		return nil, err
	}
	if err := watchConfigSources(loaded, pol, startDir(), logger); err != nil {
		return nil, err
	}
	if sv.alog, err = openAudit(loaded, sf.agentID); err != nil {
		return nil, err
	}
	if sv.cg, err = detectCgroups(); err != nil {
		return nil, err
	}
	if err := holdTrees(cfg, sv.cg, logger); err != nil {
		return nil, err
	}
	warnUnenforcedLimits(cfg, sv.cg, logger)
	sv.sup, sv.srv, sv.appr, err = newServer(loaded, pol, sv.alog, sv.cg, sf.agentID, sf.httpAddr == "", logger)
	if err != nil {
		return nil, err
	}
	return sv, nil
}

// close closes the server, the cgroup manager and the audit log, those
// that were opened, in that order.
func (sv *serving) close() {
	if sv.srv != nil {
		sv.srv.Close()
	}
	if sv.cg != nil {
		sv.cg.Close()
	}
	if sv.alog != nil {
		sv.alog.Close()
	}
}

// newServer wires the supervisor, the approval layer and the MCP server
// over the audit log alog. Every agent's audit records also go to its
// sessions as MCP log notifications (at the level each client set);
// listResources: one agent over stdio, whose processes may be listed.
func newServer(loaded *config.Loaded, pol *policy.Policy, alog *audit.Log, cg *cgroup.Manager, agentID string,
	listResources bool, logger *slog.Logger) (*supervisor.Supervisor, *server.Server, *approval.Approver, error) {
	cfg := loaded.Config
	var srvp atomic.Pointer[server.Server]
	rec := server.TapAudit(alog, srvp.Load)
	sup := newSupervisor(cfg, pol, rec, cg, func(pid int, stream string) {
		if s := srvp.Load(); s != nil {
			s.OnOutput(pid, stream)
		}
	}, func(agent string, pid int, running bool) {
		if s := srvp.Load(); s != nil {
			s.OnStateChange(agent, pid, running)
		}
	})
	appr, err := newApprover(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	srv := server.New(server.Options{
		Config: cfg, Source: loaded.Source, Policy: pol, Supervisor: sup, Audit: rec,
		AgentID: agentID, Layers: layerStates(cfg, cg), Version: version, Logger: logger,
		ListResources: listResources, Approver: appr,
	})
	srvp.Store(srv)
	return sup, srv, appr, nil
}

// warnAtStart says on stderr, once, what of the config this host or the
// config itself leaves weaker than asked.
func warnAtStart(cfg *config.Config, logger *slog.Logger) {
	if w := cfg.ScopeFallback(); w != "" {
		logger.Warn(w)
	}
	if cfg.EnableSecurityAlerts && cfg.SecurityAlertWebhook != "" && cfg.SecurityAlertWebhookSecret == "" {
		logger.Warn("securityAlertWebhook is set without securityAlertWebhookSecret: alerts are sent unsigned")
	}
	for _, m := range missingGuarantees(cfg) {
		logger.Warn("a guarantee this host cannot give", "missing", m)
	}
	for _, w := range configWarnings(cfg) {
		logger.Warn(w)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func transportName(addr string) string {
	if addr == "" {
		return "stdio"
	}
	return "http " + addr
}

func auditPath(enabled bool, p string) string {
	if !enabled {
		return "off"
	}
	return p
}

// geteuid is the server's effective uid (a variable for tests).
var geteuid = os.Geteuid

// checkHTTPBind refuses a non-loopback bind without agents (SPEC 6), and
// any HTTP without agents on a root server (SPEC 7.1): loopback is not a
// boundary between users, so every local user and process that can reach
// the port would be the anonymous agent "local" of a root server.
func checkHTTPBind(addr string, haveAgents, root bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return exitf(2, "--http %q: %v (use host:port, e.g. 127.0.0.1:8080)", addr, err)
	}
	if haveAgents {
		return nil
	}
	if root {
		return exitf(2, "--http %s: a server running as root needs \"agents\" for HTTP: without them anyone on this host who can "+
			"reach the port (every local user and process, loopback included) would be agent \"local\" and start processes as root's children. "+
			"Remedy: add \"agents\": [{\"id\": \"NAME\", \"tokenSha256\": \"<hex SHA-256 of a secret token>\"}] to the config "+
			"(make one: tok=$(openssl rand -hex 32); printf %%s \"$tok\" | sha256sum), or serve over stdio, or run the server as an unprivileged user", addr)
	}
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return exitf(2, "--http %s binds a non-loopback address without \"agents\": configure agents (bearer tokens) or bind 127.0.0.1", addr)
}

func serveHTTP(ctx context.Context, srv *server.Server, appr *approval.Approver, addr string, logger *slog.Logger, noAgents bool) error {
	if noAgents {
		logger.Warn("HTTP without agents: every request is agent \"local\"; loopback only")
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", srv.HTTPHandler())
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return exitf(2, "--http %s: %v", addr, err)
	}
	mountApprovalPages(appr, mux, addr, ln)
	logger.Info("listening", "url", "http://"+ln.Addr().String()+"/mcp")
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	<-errc
	return nil
}
