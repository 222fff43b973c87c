package serving

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/privrec/privrec/recommend"
)

// Reloader keeps Current at the newest valid version of the model file at
// Path. It reacts to file-system events on the file's directory (a model
// written atomically, as privrec build and recommend.SaveModel do, appears
// by a rename) and also polls the file's size and modification time every
// Poll, for file systems that send no events. A version that fails to load
// is logged and counted, and the current model stays.
type Reloader struct {
	Path    string
	Current *atomic.Pointer[recommend.Model]
	// Poll is the fallback poll interval; 30 s when zero, none when
	// negative.
	Poll time.Duration
	// Settle is how long events must pause before the file is read, so
	// that a file written in place is read once it is complete; 100 ms
	// when zero.
	Settle time.Duration
	// Logger receives one line per reload (release ID) or failure; slog's
	// default when nil.
	Logger *slog.Logger
	// Metrics, when set, counts reloads.
	Metrics *Metrics
}

// Run watches until ctx is done. It returns nil then; an error only when
// neither events nor polling can watch the file.
func (r *Reloader) Run(ctx context.Context) error {
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	poll, settle := r.Poll, r.Settle
	if poll == 0 {
		poll = 30 * time.Second
	}
	if settle <= 0 {
		settle = 100 * time.Millisecond
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	w, err := fsnotify.NewWatcher()
	if err == nil {
		err = w.Add(filepath.Dir(r.Path))
	}
	if err != nil {
		if poll < 0 {
			return err
		}
		log.Warn("privrec serve: no file-system events; polling the model file", "every", poll.String(), "error", err.Error())
	} else {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	name := filepath.Clean(r.Path)
	last := stamp(name)
	settleTimer := time.NewTimer(time.Hour)
	settleTimer.Stop()
	defer settleTimer.Stop()
	load := func() {
		s := stamp(name)
		if s.size < 0 || s.size == last.size && s.mod.Equal(last.mod) {
			return
		}
		last = s
		m, err := recommend.LoadModel(name)
		if r.Metrics != nil {
			r.Metrics.Reloaded(err)
		}
		if err != nil {
			log.Warn("privrec serve: model file changed but did not load; keeping the current model", "error", err.Error())
			return
		}
		r.Current.Store(m)
		log.Info("privrec serve: model reloaded", "release", m.Report().ReleaseID)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if filepath.Clean(ev.Name) == name && ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename) != 0 {
				settleTimer.Reset(settle)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			log.Warn("privrec serve: file-system watch error; the poll continues", "error", err.Error())
		case <-settleTimer.C:
			load()
		case <-tick:
			load()
		}
	}
}

// fileStamp identifies a version of a file; size is -1 when it cannot be
// read.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{size: -1}
	}
	return fileStamp{fi.ModTime(), fi.Size()}
}
