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

// JobConfig is what every URL's job shares.
type JobConfig struct {
	// Image is the hrefcounter image; empty means DefaultImage.
	Image string
	// Networks are the swarm networks the jobs are attached to, to reach
	// sites served on them.
	Networks []string
	// Timeout bounds each job; zero means no bound.
	Timeout time.Duration
	// Options are added to every job's (labels, constraints...).
	Options []oneshot.Option
}

// JobCounter returns a CountFunc that counts a URL with an hrefcounter job
// run by r. URLs that are not http(s) are refused without a job.
func JobCounter(r JobRunner, cfg JobConfig) CountFunc {
	spec := oneshot.JobSpec{Image: cfg.Image, Timeout: cfg.Timeout}
	if spec.Image == "" {
		spec.Image = DefaultImage
	}
	opts := append([]oneshot.Option(nil), cfg.Options...)
	for _, n := range cfg.Networks {
		opts = append(opts, oneshot.WithNetwork(n))
	}
	return func(ctx context.Context, rawURL string) Row {
		if err := checkURL(rawURL); err != nil {
			return Row{URL: rawURL, Status: "bad url", Detail: err.Error()}
		}
		spec := spec
		spec.Command = []string{rawURL}
		// A slice of its own: the CountFunc runs for many URLs at once.
		jobOpts := append(append(make([]oneshot.Option, 0, len(opts)+1), opts...), oneshot.WithLabel("crawl.url", rawURL))
		res, err := r.Run(ctx, spec, jobOpts...)
		return rowFor(rawURL, res, err)
	}
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
