package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Everything the DinD swarm creates on the host engine (its containers,
// their anonymous volumes, its network) is named after its run
// (oneshot-dind-XXXXXXXX) and carries two labels: the run, and the test
// process that owns it. A run removes its own things when the tests end
// (TestMain, or on SIGINT/SIGTERM). Ryuk cannot be used here, so a run that
// could not clean up (killed, or stopped by the panic of go test's -timeout)
// is swept by the next run on this machine once its owner process is gone.
// Nothing of another live run, and nothing unlabelled, is ever touched.

const (
	// labelDinDRun names the run a container or network belongs to.
	labelDinDRun = "oneshot-dind.run"
	// labelDinDOwner is the owner process: host name, PID namespace, PID.
	labelDinDOwner = "oneshot-dind.owner"
)

// dindOwner identifies this test process.
func dindOwner() string {
	return dindProcessScope() + "/" + strconv.Itoa(os.Getpid())
}

// dindProcessScope is where a PID means something: this host name and PID
// namespace (other sessions may share the engine from other containers).
func dindProcessScope() string {
	host, _ := os.Hostname()
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return host + "/" + ns
}

// ownerGone reports whether owner (a labelDinDOwner value) is a process of
// this scope that no longer exists. An owner of another scope, or one that
// cannot be read, is never gone: its run is left alone.
func ownerGone(owner string) bool {
	i := strings.LastIndexByte(owner, '/')
	if i < 0 || owner[:i] != dindProcessScope() {
		return false
	}
	pid, err := strconv.Atoi(owner[i+1:])
	if err != nil || pid <= 0 {
		return false
	}
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	// A killed process stays a zombie until its parent (or init) reaps it.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// sweepDeadRuns removes the runs whose owner process is gone.
func sweepDeadRuns(ctx context.Context, host *client.Client) error {
	owned := make(client.Filters).Add("label", labelDinDOwner)
	containers, err := host.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: owned})
	if err != nil {
		return fmt.Errorf("list DinD containers: %w", err)
	}
	networks, err := host.NetworkList(ctx, client.NetworkListOptions{Filters: owned})
	if err != nil {
		return fmt.Errorf("list DinD networks: %w", err)
	}
	dead := map[string]bool{}
	for _, c := range containers.Items {
		if ownerGone(c.Labels[labelDinDOwner]) {
			dead[c.Labels[labelDinDRun]] = true
		}
	}
	for _, n := range networks.Items {
		if ownerGone(n.Labels[labelDinDOwner]) {
			dead[n.Labels[labelDinDRun]] = true
		}
	}
	var errs []error
	for run := range dead {
		if run == "" {
			continue
		}
		fmt.Fprintf(os.Stderr, "dind: removing %s, left by a test process that is gone\n", run)
		if _, err := removeDinDRun(ctx, host, run); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeDinDRun removes the containers of run (killed, with their volumes)
// and then its networks. It returns the names of the volumes it removed with
// the containers, for dindLeftovers.
func removeDinDRun(ctx context.Context, host *client.Client, run string) ([]string, error) {
	ours := make(client.Filters).Add("label", labelDinDRun+"="+run)
	containers, err := host.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: ours})
	if err != nil {
		return nil, fmt.Errorf("list the containers of %s: %w", run, err)
	}
	var (
		mu      sync.Mutex
		errs    []error
		volumes []string
		wg      sync.WaitGroup
	)
	for _, c := range containers.Items {
		for _, m := range c.Mounts {
			if m.Name != "" {
				volumes = append(volumes, m.Name)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := host.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("remove container %s: %w", strings.Join(c.Names, ","), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	networks, err := host.NetworkList(ctx, client.NetworkListOptions{Filters: ours})
	if err != nil {
		return volumes, errors.Join(append(errs, fmt.Errorf("list the networks of %s: %w", run, err))...)
	}
	for _, n := range networks.Items {
		if _, err := host.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return volumes, errors.Join(errs...)
}

// dindLeftovers lists what of run is still on the host engine: its
// containers, its networks, and those of volumes that still exist.
func dindLeftovers(ctx context.Context, host *client.Client, run string, volumes []string) ([]string, error) {
	ours := make(client.Filters).Add("label", labelDinDRun+"="+run)
	var left []string
	containers, err := host.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: ours})
	if err != nil {
		return nil, err
	}
	for _, c := range containers.Items {
		left = append(left, "container "+strings.Join(c.Names, ","))
	}
	networks, err := host.NetworkList(ctx, client.NetworkListOptions{Filters: ours})
	if err != nil {
		return nil, err
	}
	for _, n := range networks.Items {
		left = append(left, "network "+n.Name)
	}
	for _, v := range volumes {
		_, err := host.VolumeInspect(ctx, v, client.VolumeInspectOptions{})
		switch {
		case err == nil:
			left = append(left, "volume "+v)
		case !cerrdefs.IsNotFound(err):
			return nil, err
		}
	}
	return left, nil
}
