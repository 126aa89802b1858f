package oneshot

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock whose time moves only when a test advances it, so
// that unit tests of timeouts, confirmations and pacing never sleep.
// Timers set for a time already passed fire at once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	// added is closed, and made anew, when a timer is set.
	added chan struct{}
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	ch    chan time.Time
	f     func()
	// setBy names the functions that set it, innermost first.
	setBy []string
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0, added: make(chan struct{})} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) timer {
	return c.add(&fakeTimer{ch: make(chan time.Time, 1), setBy: callers()}, func(time.Time) time.Duration { return d })
}

func (c *fakeClock) NewTimerAt(at time.Time) timer {
	return c.add(&fakeTimer{ch: make(chan time.Time, 1), setBy: callers()}, func(now time.Time) time.Duration { return at.Sub(now) })
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	return c.add(&fakeTimer{f: f, setBy: callers()}, func(time.Time) time.Duration { return d })
}

// callers names the functions that called NewTimer or AfterFunc.
func callers() []string {
	pcs := make([]uintptr, 8)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	var names []string
	for {
		f, more := frames.Next()
		names = append(names, f.Function)
		if !more {
			return names
		}
	}
}

// add sets t to fire after(now) from now, now read under the clock's
// lock: an Advance cannot come between the two.
func (c *fakeClock) add(t *fakeTimer, after func(now time.Time) time.Duration) *fakeTimer {
	c.mu.Lock()
	d := after(c.now)
	t.clock, t.at = c, c.now.Add(d)
	if d > 0 {
		c.timers = append(c.timers, t)
		close(c.added)
		c.added = make(chan struct{})
		c.mu.Unlock()
		return t
	}
	now := c.now
	c.mu.Unlock()
	t.fire(now)
	return t
}

// awaitTimer waits until a timer that a function named by (for instance
// "(*Runner).readLog") set is to fire d from now, failing the test if none
// is for long: the code under test is then waiting on it. (Another timer
// may be due then too: the shared poll spaces its polls by how long the
// last one took on the clock, which a test moving it makes any length.)
func (c *fakeClock) awaitTimer(t *testing.T, d time.Duration, by string) {
	t.Helper()
	for {
		c.mu.Lock()
		due := c.now.Add(d)
		set := slices.ContainsFunc(c.timers, func(t *fakeTimer) bool {
			return t.at.Equal(due) && slices.ContainsFunc(t.setBy, func(f string) bool { return strings.HasSuffix(f, by) })
		})
		added := c.added
		c.mu.Unlock()
		if set {
			return
		}
		await(t, added, fmt.Sprintf("a timer of %s", d))
	}
}

// Advance moves the time on by d and fires the timers due, in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due, left []*fakeTimer
	for _, t := range c.timers {
		if t.at.After(c.now) {
			left = append(left, t)
		} else {
			due = append(due, t)
		}
	}
	c.timers = left
	now := c.now
	c.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.fire(now)
	}
}

func (t *fakeTimer) fire(now time.Time) {
	if t.f != nil {
		go t.f()
		return
	}
	t.ch <- now
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, other := range c.timers {
		if other == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}
