package oneshot

import "time"

// clock is where oneshot reads the time and sets its timers: the job's
// timeout, the schedule timeout, the bound on stopping, the shared poll's
// pace. Unit tests give a fake one, so that they never sleep.
type clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, d from now.
	NewTimer(d time.Duration) timer
	// NewTimerAt returns a timer that fires once at at, or at once if at
	// has passed: the time is read when the timer is set, so that a clock
	// moved meanwhile (a test's fake one) cannot make it late.
	NewTimerAt(at time.Time) timer
	// AfterFunc calls f in its own goroutine d from now, unless stopped.
	AfterFunc(d time.Duration, f func()) timer
}

// timer is a timer of a clock. C is nil for one made by AfterFunc.
type timer interface {
	C() <-chan time.Time
	Stop() bool
}

// realClock is the system's clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) timer { return realTimer{time.NewTimer(d)} }

func (realClock) NewTimerAt(at time.Time) timer { return realTimer{time.NewTimer(time.Until(at))} }

func (realClock) AfterFunc(d time.Duration, f func()) timer { return realTimer{time.AfterFunc(d, f)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// sleep waits for d on c, or until done is closed; it reports whether the
// whole d passed.
func sleep(c clock, d time.Duration, done <-chan struct{}) bool {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-done:
		return false
	}
}
