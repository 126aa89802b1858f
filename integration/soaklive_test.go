package integration

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/oneshot-go/oneshot"
)

// What a soak job is gated on: its live output, and the cancel that comes
// at a random moment of its life.

// soakLive keeps what a job's live writers get, and calls a function once
// they have got a number of bytes (both streams together).
type soakLive struct {
	mu       sync.Mutex
	out, err []byte
	// atBytes is when reached is called (0: never).
	atBytes int
	reached func()
}

// soakStream is one stream's writer of a soakLive.
type soakStream struct {
	live   *soakLive
	stderr bool
}

// stream returns the writer of stdout, or of stderr.
func (l *soakLive) stream(stderr bool) io.Writer { return soakStream{l, stderr} }

// at makes reached be called once n bytes have been written.
func (l *soakLive) at(n int, reached func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.atBytes, l.reached = n, reached
}

func (s soakStream) Write(p []byte) (int, error) {
	l := s.live
	l.mu.Lock()
	if s.stderr {
		l.err = append(l.err, p...)
	} else {
		l.out = append(l.out, p...)
	}
	var reached func()
	if l.reached != nil && len(l.out)+len(l.err) >= l.atBytes {
		reached, l.reached = l.reached, nil
	}
	l.mu.Unlock()
	if reached != nil {
		reached()
	}
	return len(p), nil
}

// output returns what the writers got.
func (l *soakLive) output() (stdout, stderr []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out, l.err
}

// soakCanceller cancels a job's context at its moment, but never before it
// is armed (once Start has returned: a context done before the job's
// service is created makes Start fail, not the job stop) and never once
// disarmed (Wait has returned).
type soakCanceller struct {
	moment soakMoment
	cancel context.CancelFunc

	mu                       sync.Mutex
	armed, reached, disarmed bool
	fired                    bool
	timer                    *time.Timer
}

// atState is the option that reaches the moment when the job's task is
// reported in the moment's state or past it (not yet ended).
func (c *soakCanceller) atState() oneshot.Option {
	return oneshot.WithStatusFunc(func(s oneshot.TaskStatus) {
		if !s.State.Terminal() && stateRank(s.State) >= stateRank(c.moment.state) {
			c.reach()
		}
	})
}

// reach says the moment has come: the cancel comes now, or when armed.
func (c *soakCanceller) reach() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reached = true
	c.fireIfDue()
}

// arm lets the cancel come, starting the delay of an afterDelay moment.
func (c *soakCanceller) arm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = true
	if c.moment.kind == afterDelay {
		c.timer = time.AfterFunc(c.moment.delay, c.reach)
	}
	c.fireIfDue()
}

func (c *soakCanceller) fireIfDue() {
	if c.armed && c.reached && !c.disarmed && !c.fired {
		c.fired = true
		c.cancel()
	}
}

// disarm stops the cancel from coming and says whether it came.
func (c *soakCanceller) disarm() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disarmed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	return c.fired
}
