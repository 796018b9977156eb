package audit

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// groupSize is the performance issue's burst: 50 launches at once.
const groupSize = 50

// BenchmarkAuditRecords measures the audit log's records/s two ways in the
// same run, round robin, on a log in /var/tmp (a real disk: /tmp may be a
// tmpfs, where fsync costs nothing): one writer recording groupSize records
// one after the other (each Record waits for its own fsync), then
// groupSize writers recording one record each at once (group commit: the
// records written while an fsync is under way share the next one). It
// reports each way's median records/s over the iterations, the fsyncs per
// record of each, and the ratio of the two rates ("group-x-serial").
//
//	go test -run '^$' -bench AuditRecords -benchtime 40x ./internal/audit/
func BenchmarkAuditRecords(b *testing.B) {
	var syncs atomic.Int64
	orig := syncFile
	syncFile = func(f *os.File) error {
		syncs.Add(1)
		return orig(f)
	}
	b.Cleanup(func() { syncFile = orig })
	l, err := Open(Options{Path: filepath.Join(diskTempDir(b), "audit.log")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	recs := make([]Record, groupSize)
	for i := range recs {
		recs[i] = launchRecord(i)
	}

	var serialRate, groupRate []float64
	var serialSyncs, groupSyncs, serialRecs, groupRecs int64
	for b.Loop() {
		s0 := syncs.Load()
		t0 := time.Now()
		for _, r := range recs {
			if err := l.Record(r); err != nil {
				b.Fatal(err)
			}
		}
		serialRate = append(serialRate, groupSize/time.Since(t0).Seconds())
		serialSyncs += syncs.Load() - s0
		serialRecs += groupSize

		s0 = syncs.Load()
		d := recordAtOnce(b, l, recs)
		groupRate = append(groupRate, groupSize/d.Seconds())
		groupSyncs += syncs.Load() - s0
		groupRecs += groupSize
	}
	if serialRecs == 0 {
		return
	}
	sm, gm := median(serialRate), median(groupRate)
	b.ReportMetric(sm, "serial-records/s")
	b.ReportMetric(gm, "group-records/s")
	b.ReportMetric(float64(serialSyncs)/float64(serialRecs), "serial-fsyncs/record")
	b.ReportMetric(float64(groupSyncs)/float64(groupRecs), "group-fsyncs/record")
	b.ReportMetric(gm/sm, "group-x-serial")
}

// recordAtOnce has one goroutine per record call Record at the same moment
// and returns the time from that moment until the last returned.
func recordAtOnce(b *testing.B, l *Log, recs []Record) time.Duration {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, len(recs))
	for _, r := range recs {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			if err := l.Record(r); err != nil {
				errs <- err
			}
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	d := time.Since(t0)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return d
}

// diskTempDir is a temporary directory on a disk-backed file system when
// /var/tmp is one (it usually is), else the test's temporary directory.
func diskTempDir(b *testing.B) string {
	dir, err := os.MkdirTemp("/var/tmp", "mcp-process-audit-bench-")
	if err != nil {
		return b.TempDir()
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
