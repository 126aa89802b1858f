package integration

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/oneshot-go/oneshot"
	"github.com/oneshot-go/oneshot/internal/spew"
)

// The soak's plan: which jobs it runs, what each prints and how each must
// end, all drawn from one seed, so that a run's plan can be made again
// (ONESHOT_SOAK_SEED) and every byte a job prints is known beforehand.

// soakKind is what a soak job does and so how it must end.
type soakKind int

const (
	// soakExitZero prints its output and exits 0: no error.
	soakExitZero soakKind = iota
	// soakExitCode prints its output and exits 1-255: an *ExitError.
	soakExitCode
	// soakTimeout prints its output and sleeps past its WithTimeout: a
	// *StopError matching context.DeadlineExceeded.
	soakTimeout
	// soakCancel prints its output, sleeps a little and exits with a code
	// of 0-255; its context is cancelled at a random moment once it is
	// started: a *StopError matching context.Canceled, or, when the
	// cancel raced its end, its natural outcome.
	soakCancel
	// soakMissingImage names an image no node has: a *TaskError matching
	// ErrImageNotFound.
	soakMissingImage
	// soakUnschedulable has a constraint no node meets and a schedule
	// timeout: a *TaskError matching ErrUnschedulable.
	soakUnschedulable
	// soakSecret reads a secret made for it (WithSecretData), prints its
	// output and exits 0-255.
	soakSecret
	soakKinds
)

func (k soakKind) String() string {
	return [...]string{"exit 0", "exit 1-255", "timeout", "cancel", "missing image", "unschedulable", "secret data"}[k]
}

// soakKindWeights are how often each kind is drawn, in percent.
var soakKindWeights = [soakKinds]int{18, 24, 8, 26, 5, 5, 14}

// soakSegment is one jobkit sub-command of a job's output, with what it
// prints on each stream.
type soakSegment struct {
	args           []string
	stdout, stderr []byte
}

// soakJob is one job of the soak, as planned.
type soakJob struct {
	index int
	kind  soakKind
	// segments are what the job prints, in order.
	segments []soakSegment
	// exitCode is the code it exits with when it ends on its own.
	exitCode int
	// pause is how long a cancelled job sleeps after its output.
	pause time.Duration
	// secret is the data of its secret (soakSecret).
	secret []byte
	// timeout is its WithTimeout (soakTimeout), schedule its
	// WithScheduleTimeout (soakUnschedulable).
	timeout, schedule time.Duration
	// cancel is when its context is cancelled (soakCancel).
	cancel soakMoment
}

// soakMomentKind says what a cancel waits for.
type soakMomentKind int

const (
	// afterDelay: a delay after Start returned.
	afterDelay soakMomentKind = iota
	// atState: the job's task reported in a state (or past it).
	atState
	// afterBytes: the live writers got so many bytes of output.
	afterBytes
)

// soakMoment is a random moment of a job's life.
type soakMoment struct {
	kind  soakMomentKind
	delay time.Duration
	state oneshot.TaskState
	bytes int
}

func (m soakMoment) String() string {
	switch m.kind {
	case afterDelay:
		return fmt.Sprintf("%s after Start", m.delay)
	case atState:
		return "at state " + string(m.state)
	}
	return fmt.Sprintf("after %d bytes of output", m.bytes)
}

// soakCancelStates are the task states at which a cancel may come.
var soakCancelStates = []oneshot.TaskState{oneshot.StatePending, oneshot.StateAssigned, oneshot.StateAccepted,
	oneshot.StatePreparing, oneshot.StateReady, oneshot.StateStarting, oneshot.StateRunning}

// soakMaxOutput bounds the output of a job, both streams together.
const soakMaxOutput = 2 << 20

// soakMaxTextArgs bounds the text a job's arguments carry: the service
// spec goes through every task list the Runner polls.
const soakMaxTextArgs = 16 << 10

// planSoak draws n jobs from seed: each kind at least once, the others
// by soakKindWeights, in a random order.
func planSoak(seed uint64, n int) []*soakJob {
	rng := rand.New(rand.NewPCG(seed, 0x50a4))
	kinds := make([]soakKind, n)
	for i := range kinds {
		if i < int(soakKinds) {
			kinds[i] = soakKind(i)
		} else {
			kinds[i] = drawKind(rng)
		}
	}
	rng.Shuffle(n, func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	jobs := make([]*soakJob, n)
	for i, k := range kinds {
		jobs[i] = planJob(rng, i, k)
	}
	return jobs
}

func drawKind(rng *rand.Rand) soakKind {
	x := rng.IntN(100)
	for k, w := range soakKindWeights {
		if x < w {
			return soakKind(k)
		}
		x -= w
	}
	return soakExitZero
}

// planJob draws what job i of kind prints and how it ends.
func planJob(rng *rand.Rand, i int, kind soakKind) *soakJob {
	j := &soakJob{index: i, kind: kind}
	switch kind {
	case soakMissingImage, soakUnschedulable:
		j.schedule = time.Duration(1000+rng.IntN(2000)) * time.Millisecond
		return j
	case soakExitCode:
		j.exitCode = 1 + rng.IntN(255)
	case soakCancel:
		j.exitCode = drawNaturalCode(rng)
		j.pause = time.Duration(rng.IntN(2000)) * time.Millisecond
	case soakSecret:
		j.exitCode = drawNaturalCode(rng)
		j.secret = []byte(randomText(rng, 1+rng.IntN(8<<10)))
	case soakTimeout:
		j.timeout = time.Duration(2000+rng.IntN(3000)) * time.Millisecond
	}
	j.segments = planOutput(rng)
	if kind == soakCancel {
		j.cancel = drawMoment(rng, j.outputSize())
	}
	return j
}

// drawNaturalCode draws an exit code of 0-255 (0 half the time), never
// 137 or 143, the codes of a job killed or stopped by SIGTERM: so that a
// cancelled job's outcome says whether it was stopped.
func drawNaturalCode(rng *rand.Rand) int {
	if rng.IntN(2) == 0 {
		return 0
	}
	for {
		if c := 1 + rng.IntN(255); c != 137 && c != 143 {
			return c
		}
	}
}

func drawMoment(rng *rand.Rand, output int) soakMoment {
	switch rng.IntN(3) {
	case 0:
		return soakMoment{kind: afterDelay, delay: time.Duration(rng.IntN(2500)) * time.Millisecond}
	case 1:
		if output > 0 {
			return soakMoment{kind: afterBytes, bytes: 1 + rng.IntN(output)}
		}
	}
	return soakMoment{kind: atState, state: soakCancelStates[rng.IntN(len(soakCancelStates))]}
}

// drawOutputSize draws how many bytes a job prints at most: none, a
// little, or up to soakMaxOutput.
func drawOutputSize(rng *rand.Rand) int {
	switch x := rng.IntN(100); {
	case x < 10:
		return 0
	case x < 40:
		return 1 + rng.IntN(1<<10)
	case x < 65:
		return 1<<10 + rng.IntN(63<<10)
	case x < 85:
		return 64<<10 + rng.IntN(448<<10)
	}
	return 512<<10 + rng.IntN(soakMaxOutput-512<<10+1)
}

// planOutput draws the segments of a job's output, up to a drawn size.
func planOutput(rng *rand.Rand) []soakSegment {
	left := drawOutputSize(rng)
	textLeft := soakMaxTextArgs
	var segments []soakSegment
	for len(segments) < 6 && left > 0 {
		s, ok := drawSegment(rng, left, textLeft)
		if !ok {
			continue
		}
		if s.args[0] == "echo" || s.args[0] == "stderr" {
			textLeft -= len(s.args[1])
		}
		left -= len(s.stdout) + len(s.stderr)
		segments = append(segments, s)
	}
	return segments
}

// drawSegment draws one segment that prints at most left bytes; ok is
// false when the one drawn does not fit.
func drawSegment(rng *rand.Rand, left, textLeft int) (soakSegment, bool) {
	switch rng.IntN(6) {
	case 0, 1:
		n := min(left-1, textLeft, 4<<10)
		if n < 1 {
			return lineSegment(left - 1), true
		}
		return textSegment(rng.IntN(2) == 1, randomText(rng, 1+rng.IntN(n))), true
	case 2:
		return lineSegment(rng.IntN(left)), true
	case 3:
		s := spewSegment(rng.IntN(1000))
		return s, len(s.stdout) <= left
	case 4:
		s := linesSegment(rng.IntN(2), rng.IntN(1000))
		return s, len(s.stdout)+len(s.stderr) <= left
	}
	return mixedSegment(rng, left), true
}

// soakTextAlphabet is what random text is made of: printable ASCII but
// '$', which jobkit expands.
const soakTextAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !\"#%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// randomText is n random characters, the first a letter (so that it is
// never jobkit's "--").
func randomText(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		alphabet := soakTextAlphabet
		if i == 0 {
			alphabet = alphabet[:52]
		}
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// textSegment is `jobkit echo TEXT` (or `stderr TEXT`).
func textSegment(stderr bool, text string) soakSegment {
	line := []byte(text + "\n")
	if stderr {
		return soakSegment{args: []string{"stderr", text}, stderr: line}
	}
	return soakSegment{args: []string{"echo", text}, stdout: line}
}

// lineSegment is `jobkit line N`: n+1 bytes on stdout.
func lineSegment(n int) soakSegment {
	return soakSegment{args: []string{"line", strconv.Itoa(n)}, stdout: []byte(longLine(n))}
}

// spewSegment is `jobkit spew 1 SEED`: 1 MiB on stdout.
func spewSegment(seed int) soakSegment {
	return soakSegment{args: []string{"spew", "1", strconv.Itoa(seed)}, stdout: spew.Bytes(1<<20, seed)}
}

// linesSegment is `jobkit lines MIB SEED`: lines of 1 B to 1 MiB on both
// streams (MIB 0: one short line without a newline on each).
func linesSegment(mib, seed int) soakSegment {
	stdout, stderr := spew.Streams(spew.Lines(mib<<20, seed))
	return soakSegment{args: []string{"lines", strconv.Itoa(mib), strconv.Itoa(seed)}, stdout: stdout, stderr: stderr}
}

// mixedSegment is `jobkit mixed N` for a random N whose output fits in
// left bytes (N is 0 when none does).
func mixedSegment(rng *rand.Rand, left int) soakSegment {
	n := rng.IntN(left/6 + 1)
	for mixedSize(n) > left {
		n /= 2
	}
	var stdout, stderr []byte
	for i := 1; i <= n; i++ {
		if i%2 == 1 {
			stdout = fmt.Appendf(stdout, "out %d\n", i)
		} else {
			stderr = fmt.Appendf(stderr, "err %d\n", i)
		}
	}
	return soakSegment{args: []string{"mixed", strconv.Itoa(n)}, stdout: stdout, stderr: stderr}
}

// mixedSize is how many bytes `jobkit mixed N` prints.
func mixedSize(n int) int {
	size := 0
	for i := 1; i <= n; i++ {
		size += len("out \n") + len(strconv.Itoa(i))
	}
	return size
}

// command is the job's jobkit command line.
func (j *soakJob) command() []string {
	var cmd []string
	then := func(args ...string) {
		if len(cmd) > 0 {
			cmd = append(cmd, "--")
		}
		cmd = append(cmd, args...)
	}
	if j.kind == soakSecret {
		then("cat", "/run/secrets/soak")
	}
	for _, s := range j.segments {
		then(s.args...)
	}
	switch j.kind {
	case soakTimeout:
		then("sleep", "10m")
	case soakCancel:
		then("sleep", j.pause.String())
	}
	then("exit", strconv.Itoa(j.exitCode))
	return cmd
}

// output is what the job prints on each stream when it runs to its end.
func (j *soakJob) output() (stdout, stderr []byte) {
	stdout = append(stdout, j.secret...)
	for _, s := range j.segments {
		stdout = append(stdout, s.stdout...)
		stderr = append(stderr, s.stderr...)
	}
	return stdout, stderr
}

// outputSize is how many bytes the job prints, both streams together.
func (j *soakJob) outputSize() int {
	stdout, stderr := j.output()
	return len(stdout) + len(stderr)
}

// describe sums the job up for a report: its kind, its segments and how
// it ends.
func (j *soakJob) describe() string {
	var segs []string
	for _, s := range j.segments {
		arg := s.args[0]
		if len(s.args) > 1 {
			arg += " " + s.args[1]
			if len(arg) > 24 {
				arg = fmt.Sprintf("%s (%d chars)", s.args[0], len(s.args[1]))
			}
		}
		segs = append(segs, arg)
	}
	stdout, stderr := j.output()
	msg := fmt.Sprintf("job #%d (%s): prints %d+%d bytes %v", j.index, j.kind, len(stdout), len(stderr), segs)
	switch j.kind {
	case soakTimeout:
		msg += fmt.Sprintf(", times out after %s", j.timeout)
	case soakCancel:
		msg += fmt.Sprintf(", sleeps %s, exits %d, cancelled %s", j.pause, j.exitCode, j.cancel)
	case soakMissingImage, soakUnschedulable:
		msg += fmt.Sprintf(", schedule timeout %s", j.schedule)
	default:
		msg += fmt.Sprintf(", exits %d", j.exitCode)
	}
	return msg
}
