package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/blastlog/blastlog/adapters/httpapi"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/adapters/webhook"
	"github.com/blastlog/blastlog/core/app/archive"
	"github.com/blastlog/blastlog/core/app/fanout"
	"github.com/blastlog/blastlog/core/app/notify"
	"github.com/blastlog/blastlog/functions/internal/wiring"
	"github.com/blastlog/blastlog/ports"
)

// archiving runs the archiver: it copies every run into the archive when one is
// configured, and keeps every run's summary and diagnosis beside it in Redis either
// way (what summaries, notifications and the verdict read).
func archiving(c config) fx.Option {
	return fx.Options(fx.Provide(newArchiver), fx.Invoke(func(*archive.Archiver) {}))
}

// archiverDeps are the archiver's dependencies.
type archiverDeps struct {
	fx.In
	Store   wiring.ArchiveStore
	RDB     redis.UniversalClient
	Layout  redisstore.Config
	Log     ports.EventLog
	Tail    ports.LogTail
	Jobs    ports.JobDirectory
	Active  ports.ActiveRuns
	Ended   ports.EndedRuns
	Logger  *slog.Logger
	Metrics *httpapi.Metrics
	Hub     *fanout.Hub
}

// markEvery renews the archive mark that makes every writer use the hard cap.
const markEvery = time.Minute

// newArchiver copies every run into the archive between the app's start and stop.
func newArchiver(lc fx.Lifecycle, c config, d archiverDeps) *archive.Archiver {
	state := redisstore.NewArchiveState(d.RDB, d.Layout)
	m := d.Metrics
	kept := redisstore.NewSummaries(d.RDB, d.Layout)
	var index ports.IndexStore = kept // without an archive, the kept summary is the index
	var summaries ports.IndexStore
	if d.Store.Archive != nil {
		index, summaries = d.Store.Index, kept
	}
	a := &archive.Archiver{Log: d.Log, Tail: d.Tail, Keeper: state, Cursors: state, Archive: d.Store.Archive,
		Index: index, Summaries: summaries, Leases: redisstore.NewLeases(d.RDB, d.Layout, "archlease"), Jobs: d.Jobs, Active: d.Active,
		Ended: d.Ended, Logger: d.Logger,
		Config: archive.Config{Holder: wiring.HolderID(), ChunkEvents: c.Archive.ChunkEvents, Flush: c.Archive.Flush, Collecting: c.K8s.Mode != "off"},
		Metrics: archive.Metrics{
			Lag:    func(n int64) { m.ArchiveLag.Set(float64(n)) },
			Errors: func(op string) { m.ArchiveErrors.WithLabelValues(op).Inc() },
			Chunks: func(n int) { m.ArchiveChunks.Add(float64(n)) },
			Runs:   func(n int) { m.ArchiveRuns.Set(float64(n)) },
		}}
	if c.Notify.Enabled() {
		n := &notify.Notifier{On: c.Notify.On, Leases: redisstore.NewLeases(d.RDB, d.Layout, "notify"), Holder: wiring.HolderID(),
			PublicURL: c.Notify.PublicURL, StuckAfter: c.StuckAfter, Logger: d.Logger,
			Sender: &webhook.Sender{URLs: c.Notify.URLs, Format: c.Notify.Format, Secret: []byte(c.Notify.Secret)},
			Metrics: notify.Metrics{
				Sent:     func(kind string) { m.NotifySent.WithLabelValues(kind).Inc() },
				Failures: func(kind string) { m.NotifyFailures.WithLabelValues(kind).Inc() },
				Dropped:  m.NotifyDropped.Inc,
			}}
		a.Observe = n.Observe
		wiring.Background(lc, n.Run)
		d.Logger.Info("notifying", "receivers", len(c.Notify.URLs), "on", c.Notify.On, "format", c.Notify.Format,
			"signed", c.Notify.Secret != "")
	}
	d.Hub.Tee = a // the runs viewers watch are read once, by the fan-out (set before the app starts)
	wiring.Background(lc, a.Run)
	wiring.Background(lc, func(ctx context.Context) {
		for {
			if err := state.MarkArchiving(ctx, c.Archive.HardMax, 3*markEvery); err != nil && ctx.Err() == nil {
				d.Logger.Warn("archive: renewing the writers' mark failed; retrying", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(markEvery):
			}
		}
	})
	level, msg := archiveNotice(c)
	d.Logger.Log(context.Background(), level, msg, "mode", c.Archive.Mode, "chunk_events", c.Archive.ChunkEvents,
		"flush", c.Archive.Flush.String())
	return a
}

// archiveNotice is what the start says of the archive: in production, running
// without one is a warning that names what is lost.
func archiveNotice(c config) (slog.Level, string) {
	switch {
	case c.Archive.On():
		return slog.LevelInfo, "archiving runs"
	case c.Auth.Env == "production":
		return slog.LevelWarn, "no archive (BLASTLOG_ARCHIVE=off): each run's summary and verdict are kept in Redis, " +
			"but its lines beyond BLASTLOG_STREAM_MAXLEN and whole runs older than BLASTLOG_RETENTION are lost; " +
			"set BLASTLOG_ARCHIVE=azblob to keep every line"
	}
	return slog.LevelInfo, "no archive: keeping every run's summary in Redis"
}
