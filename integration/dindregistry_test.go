package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
	"golang.org/x/crypto/bcrypt"
)

// The test swarm's registries get job images to every node as in
// production: the host pushes an image once, through the registry's port
// published on 127.0.0.1 (loopback needs no insecure-registry setting); the
// manager resolves its digest and each node pulls it by the registry's name
// on the swarm's network (the nodes trust it with --insecure-registry).

// Credentials of the authenticated registry.
const (
	dindRegistryUser     = "oneshot"
	dindRegistryPassword = "s3cret-pull-only"
)

// dindRegistry is one registry of the test swarm.
type dindRegistry struct {
	// alias is its name on the swarm's network (how the nodes reach it).
	alias     string
	container *testcontainers.DockerContainer
	// hostPort is its port on 127.0.0.1 (how the host pushes).
	hostPort string
	// auth says whether it asks for dindRegistryUser's password.
	auth bool
}

// nodeAddr is the registry as the nodes name it, e.g. "registry:5000".
func (r *dindRegistry) nodeAddr() string { return r.alias + ":5000" }

// Image is the name of repo:tag in this registry, as the nodes name it.
func (r *dindRegistry) Image(repoTag string) string { return r.nodeAddr() + "/" + repoTag }

// dindRegistryImage is the image the registries run: ONESHOT_REGISTRY_IMAGE,
// or the one integration/dind/build-registry-image.sh builds. Both it and
// registry:2 take the path of their config file as their command.
func dindRegistryImage() string {
	if img := os.Getenv("ONESHOT_REGISTRY_IMAGE"); img != "" {
		return img
	}
	return "oneshot-registry:dev"
}

// dindRegistryConfig is the registries' configuration; the authenticated
// one appends dindRegistryAuthConfig.
const (
	dindRegistryConfig = `version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
http:
  addr: :5000
`
	dindRegistryAuthConfig = `auth:
  htpasswd:
    realm: oneshot-test
    path: /etc/docker/registry/htpasswd
`
	dindRegistryConfigPath = "/etc/docker/registry/oneshot.yml"
)

// startRegistry runs a registry on the swarm's network, asking for
// dindRegistryUser's password (an htpasswd file, bcrypt) when auth is set.
func (s *dindSwarm) startRegistry(ctx context.Context, r *dindRegistry) error {
	config := dindRegistryConfig
	var files []testcontainers.ContainerFile
	if r.auth {
		hash, err := bcrypt.GenerateFromPassword([]byte(dindRegistryPassword), bcrypt.MinCost)
		if err != nil {
			return err
		}
		config += dindRegistryAuthConfig
		htpasswd := fmt.Sprintf("%s:%s\n", dindRegistryUser, hash)
		files = append(files, testcontainers.ContainerFile{Reader: bytes.NewReader([]byte(htpasswd)), ContainerFilePath: "/etc/docker/registry/htpasswd", FileMode: 0o644})
	}
	files = append(files, testcontainers.ContainerFile{Reader: bytes.NewReader([]byte(config)), ContainerFilePath: dindRegistryConfigPath, FileMode: 0o644})
	var err error
	r.container, err = testcontainers.Run(ctx, dindRegistryImage(),
		testcontainers.WithLogger(s.tcLogger),
		testcontainers.WithName(s.run+"-"+r.alias),
		testcontainers.WithLabels(s.labels()),
		network.WithNetworkName([]string{r.alias}, s.run),
		testcontainers.WithCmd(dindRegistryConfigPath),
		testcontainers.WithFiles(files...),
		testcontainers.WithExposedPorts("5000/tcp"),
		// /v2/ answers 200, or 401 when auth is on: either way it serves.
		testcontainers.WithWaitStrategy(wait.ForHTTP("/v2/").WithPort("5000/tcp").WithStatusCodeMatcher(func(int) bool { return true })),
	)
	if err != nil {
		return fmt.Errorf("registry %s: %w", r.alias, err)
	}
	port, err := r.container.MappedPort(ctx, "5000/tcp")
	if err != nil {
		return err
	}
	r.hostPort = port.Port()
	return nil
}

// push pushes the host's image source into the registry as repoTag, with
// the credentials when the registry asks for them, and returns the name the
// nodes pull it by. The host's extra tag is removed afterwards.
func (r *dindRegistry) push(ctx context.Context, host *client.Client, source, repoTag string) (string, error) {
	target := "127.0.0.1:" + r.hostPort + "/" + repoTag
	cred := registry.AuthConfig{} // Engine 20.10 wants the header, even empty
	if r.auth {
		cred = registry.AuthConfig{Username: dindRegistryUser, Password: dindRegistryPassword, ServerAddress: "127.0.0.1:" + r.hostPort}
	}
	auth, err := authconfig.Encode(cred)
	if err != nil {
		return "", err
	}
	if _, err := host.ImageTag(ctx, client.ImageTagOptions{Source: source, Target: target}); err != nil {
		return "", fmt.Errorf("tag %s: %w", target, err)
	}
	defer func() { _, _ = host.ImageRemove(context.WithoutCancel(ctx), target, client.ImageRemoveOptions{}) }()
	resp, err := host.ImagePush(ctx, target, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		return "", fmt.Errorf("push %s: %w", target, err)
	}
	if err := resp.Wait(ctx); err != nil {
		return "", fmt.Errorf("push %s: %w", target, err)
	}
	return r.Image(repoTag), nil
}
