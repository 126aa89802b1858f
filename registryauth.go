package oneshot

import (
	"fmt"

	"github.com/cpuguy83/dockercfg"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
)

// RegistryAuth holds credentials for the registry of a job's image.
type RegistryAuth struct {
	// Username and Password log in to the registry.
	Username, Password string
	// IdentityToken, if set, is used instead of Username and Password.
	IdentityToken string
	// ServerAddress is the registry, e.g. "registry.example.com:5000".
	ServerAddress string
}

// encode returns the credentials in the form the engine takes them (the
// X-Registry-Auth header).
func (a *RegistryAuth) encode() (string, error) {
	if a == nil {
		return "", nil
	}
	return authconfig.Encode(registry.AuthConfig{
		Username:      a.Username,
		Password:      a.Password,
		IdentityToken: a.IdentityToken,
		ServerAddress: a.ServerAddress,
	})
}

// RegistryAuthFromDockerConfig returns the credentials that the user's docker
// configuration ($DOCKER_CONFIG/config.json or ~/.docker/config.json, with
// its credential helpers) holds for the registry of image, or nil when it
// holds none.
func RegistryAuthFromDockerConfig(image string) (*RegistryAuth, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return nil, &SpecError{Field: "Image", Problem: fmt.Sprintf("%q is not an image reference: %v", image, err), Fix: "set the image before WithRegistryAuthFromDockerConfig"}
	}
	host := reference.Domain(named)
	user, secret, err := dockercfg.GetRegistryCredentials(dockercfg.ResolveRegistryHost(host))
	if err != nil {
		return nil, &SpecError{Field: "RegistryAuth", Problem: fmt.Sprintf("read docker credentials for %s: %v", host, err), Fix: "run `docker login " + host + "` or pass WithRegistryAuth", Err: err}
	}
	if user == "" && secret == "" {
		return nil, nil
	}
	auth := &RegistryAuth{Username: user, Password: secret, ServerAddress: host}
	if user == "" {
		auth.Password, auth.IdentityToken = "", secret
	}
	return auth, nil
}
