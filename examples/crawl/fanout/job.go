package fanout

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/oneshot-go/oneshot"
)

// DefaultImage is the hrefcounter job image that examples/crawl/images.sh
// builds.
const DefaultImage = "oneshot-hrefcounter:dev"

// JobRunner runs one job to its end; *oneshot.Runner is one.
type JobRunner interface {
	Run(ctx context.Context, spec oneshot.JobSpec, opts ...oneshot.Option) (*oneshot.Result, error)
}

// JobConfig is what every page's task shares.
type JobConfig struct {
	// Image is the hrefcounter image; empty means DefaultImage.
	Image string
	// Networks are the swarm networks the tasks are attached to, to reach
	// sites served on them.
	Networks []string
	// Timeout bounds each page: its fetch (hrefcounter's -timeout) and its
	// task's wait for a node (the job's schedule timeout). Zero leaves
	// hrefcounter's own bound of 30 s, and no bound on the wait.
	Timeout time.Duration
	// Options are added to every job's (labels, constraints...).
	Options []oneshot.Option
}

// spec is the job that counts urls: one task per URL, at most parallel at
// once, each given the whole list and counting the URL at its index.
func (cfg JobConfig) spec(urls []string, parallel int) oneshot.JobSpec {
	spec := oneshot.JobSpec{Image: cfg.Image, ScheduleTimeout: cfg.Timeout, Tasks: len(urls), Parallelism: max(parallel, 1)}
	if spec.Image == "" {
		spec.Image = DefaultImage
	}
	if cfg.Timeout > 0 {
		spec.Command = append(spec.Command, "-timeout", cfg.Timeout.String())
	}
	spec.Command = append(spec.Command, urls...)
	return spec
}

// options are the options of every job: cfg.Options and the networks, in
// a slice of the job's own.
func (cfg JobConfig) options() []oneshot.Option {
	opts := append([]oneshot.Option(nil), cfg.Options...)
	for _, n := range cfg.Networks {
		opts = append(opts, oneshot.WithNetwork(n))
	}
	return opts
}

// checkURL refuses what hrefcounter would refuse, before a job is made.
func checkURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", rawURL)
	}
	return nil
}
