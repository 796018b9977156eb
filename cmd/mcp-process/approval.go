package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/mcp-process/mcp-process/internal/approval"
	"github.com/mcp-process/mcp-process/internal/config"
)

// newApprover builds the approval layer when the config asks a person
// about anything (nil otherwise). Its policy version is the SHA-256 of the
// effective configuration, bound into every requestState.
func newApprover(cfg *config.Config) (*approval.Approver, error) {
	if !cfg.RequireConfirmation && len(cfg.RequireConfirmationFor) == 0 && !cfg.RequireTerminationConfirmation {
		return nil, nil
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return approval.New(approval.Options{
		Mode: cfg.ApprovalMode, Timeout: time.Duration(cfg.ConfirmationTimeoutSeconds) * time.Second,
		TokenSha256: cfg.ApproverTokenSha256, AutoApproveAfter: cfg.AutoApproveAfterCount,
		PolicyVersion: hex.EncodeToString(sum[:]),
	})
}

// serveApprovalPages serves url mode's approval pages over stdio on a
// loopback listener of their own (an ephemeral port; the links go to the
// client in URL-mode elicitations, never to stdout). The returned stop
// shuts it down.
func serveApprovalPages(appr *approval.Approver, logger *slog.Logger) (stop func(), err error) {
	if appr == nil || appr.Mode() != approval.ModeURL {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, exitf(2, "approvalMode \"url\": cannot listen on loopback for the approval pages: %v", err)
	}
	appr.SetBaseURL("http://" + ln.Addr().String())
	hs := &http.Server{Handler: appr.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("approval pages stopped", "err", err)
		}
	}()
	logger.Info("approval pages served on loopback", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}, nil
}

// mountApprovalPages serves url mode's approval pages on the HTTP
// listener, at /approval/; links name the --http host (the host name of
// this machine when it binds every address) and the listener's port.
func mountApprovalPages(appr *approval.Approver, mux *http.ServeMux, addr string, ln net.Listener) {
	if appr == nil || appr.Mode() != approval.ModeURL {
		return
	}
	host, _, _ := net.SplitHostPort(addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	appr.SetBaseURL("http://" + net.JoinHostPort(host, port))
	mux.Handle("/approval/", appr.Handler())
}
