package oneshot

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistryAuthEncodesForTheEngine(t *testing.T) {
	cases := []struct {
		name string
		in   RegistryAuth
		want registry.AuthConfig
	}{
		{"user and password", RegistryAuth{Username: "u", Password: "p@ss/+=?", ServerAddress: "reg.example.com:5000"},
			registry.AuthConfig{Username: "u", Password: "p@ss/+=?", ServerAddress: "reg.example.com:5000"}},
		{"identity token", RegistryAuth{IdentityToken: "tok", ServerAddress: "reg"},
			registry.AuthConfig{IdentityToken: "tok", ServerAddress: "reg"}},
		{"non-ASCII password", RegistryAuth{Username: "ü", Password: "мир>>>???"},
			registry.AuthConfig{Username: "ü", Password: "мир>>>???"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := (&tc.in).encode()
			require.NoError(t, err)
			assert.NotContains(t, got, "+", "base64url, not standard base64")
			assert.NotContains(t, got, "/", "base64url, not standard base64")

			raw, err := base64.URLEncoding.DecodeString(got)
			require.NoError(t, err)
			var cfg registry.AuthConfig
			require.NoError(t, json.Unmarshal(raw, &cfg))
			assert.Equal(t, tc.want, cfg)

			decoded, err := authconfig.Decode(got)
			require.NoError(t, err, "the engine's own decoder reads it")
			assert.Equal(t, tc.want, *decoded)
		})
	}

	none, err := (*RegistryAuth)(nil).encode()
	require.NoError(t, err)
	assert.Empty(t, none, "no header without credentials")
}

// dockerConfig makes a DOCKER_CONFIG directory holding config.json for the
// rest of the test, and a PATH without credential helpers, so that the
// machine's own docker login cannot leak in.
func dockerConfig(t *testing.T, config string) {
	t.Helper()
	dir := t.TempDir()
	if config != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o600))
	}
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("PATH", t.TempDir())
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

func TestRegistryAuthFromDockerConfig(t *testing.T) {
	dockerConfig(t, `{"auths": {
		"reg.example.com:5000": {"auth": "`+basicAuth("alice", "s3:cret")+`"},
		"https://index.docker.io/v1/": {"auth": "`+basicAuth("bob", "hub-token")+`"},
		"ghcr.io": {"username": "carol", "password": "pat"},
		"token.example.com": {"identitytoken": "oauth-refresh-token"},
		"empty.example.com": {}
	}}`)
	cases := []struct {
		image string
		want  *RegistryAuth
	}{
		{"reg.example.com:5000/team/app:v1", &RegistryAuth{Username: "alice", Password: "s3:cret", ServerAddress: "reg.example.com:5000"}},
		{"reg.example.com:5000/app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			&RegistryAuth{Username: "alice", Password: "s3:cret", ServerAddress: "reg.example.com:5000"}},
		{"ghcr.io/org/tool", &RegistryAuth{Username: "carol", Password: "pat", ServerAddress: "ghcr.io"}},
		{"token.example.com/app", &RegistryAuth{IdentityToken: "oauth-refresh-token", ServerAddress: "token.example.com"}},
		{"reg.example.com/app", nil},      // another port: another registry
		{"other.example.com/app", nil},    // nothing stored
		{"empty.example.com/app", nil},    // an entry without credentials
		{"localhost:5000/app", nil},       // nothing stored
		{"reg.example.com:5001/app", nil}, // nothing stored
	}
	for _, tc := range cases {
		got, err := RegistryAuthFromDockerConfig(tc.image)
		require.NoError(t, err, tc.image)
		assert.Equal(t, tc.want, got, tc.image)
	}

	// Docker Hub's credentials are stored under its legacy index address.
	for _, image := range []string{"alpine", "alpine:3.20", "library/alpine", "docker.io/library/alpine", "index.docker.io/library/alpine", "bob/private-app:v1"} {
		got, err := RegistryAuthFromDockerConfig(image)
		require.NoError(t, err, image)
		if assert.NotNil(t, got, image) {
			assert.Equal(t, "bob", got.Username, image)
			assert.Equal(t, "hub-token", got.Password, image)
			assert.Empty(t, got.IdentityToken, image)
		}
	}
}

func TestRegistryAuthFromDockerConfigWithoutCredentials(t *testing.T) {
	for name, config := range map[string]string{
		"no config.json":   "",
		"no auths":         `{}`,
		"other registries": `{"auths": {"reg.example.com": {"auth": "` + basicAuth("a", "b") + `"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dockerConfig(t, config)
			for _, image := range []string{"alpine", "ghcr.io/org/tool"} {
				got, err := RegistryAuthFromDockerConfig(image)
				require.NoError(t, err, image)
				assert.Nil(t, got, image)
			}
		})
	}
}

func TestRegistryAuthFromDockerConfigErrors(t *testing.T) {
	cases := []struct {
		name, config, image, field string
	}{
		{"not an image reference", `{}`, "Not An Image", "Image"},
		{"empty image", `{}`, "", "Image"},
		{"config.json is not JSON", `{"auths": `, "alpine", "RegistryAuth"},
		{"auth is not base64", `{"auths": {"reg.example.com": {"auth": "%%%"}}}`, "reg.example.com/app", "RegistryAuth"},
		{"auth without a colon", `{"auths": {"reg.example.com": {"auth": "` + base64.StdEncoding.EncodeToString([]byte("nocolon")) + `"}}}`, "reg.example.com/app", "RegistryAuth"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dockerConfig(t, tc.config)
			got, err := RegistryAuthFromDockerConfig(tc.image)
			assert.Nil(t, got)
			var specErr *SpecError
			require.ErrorAs(t, err, &specErr)
			assert.Equal(t, tc.field, specErr.Field)
			assert.NotEmpty(t, specErr.Fix)
		})
	}
}

func TestWithRegistryAuthFromDockerConfig(t *testing.T) {
	dockerConfig(t, `{"auths": {"reg.example.com:5000": {"auth": "`+basicAuth("alice", "s3cret")+`"}}}`)

	got, err := applyOptions(JobSpec{Image: "reg.example.com:5000/app:v1"}, []Option{WithRegistryAuthFromDockerConfig()})
	require.NoError(t, err)
	assert.Equal(t, &RegistryAuth{Username: "alice", Password: "s3cret", ServerAddress: "reg.example.com:5000"}, got.RegistryAuth)

	got, err = applyOptions(JobSpec{}, []Option{WithImage("reg.example.com:5000/app"), WithRegistryAuthFromDockerConfig()})
	require.NoError(t, err)
	assert.Equal(t, "alice", got.RegistryAuth.Username, "the image set by an earlier option counts")

	got, err = applyOptions(JobSpec{Image: "public.example.com/app"}, []Option{WithRegistryAuthFromDockerConfig()})
	require.NoError(t, err)
	assert.Nil(t, got.RegistryAuth, "no stored credentials: none sent")

	explicit := &RegistryAuth{Username: "bob", Password: "pw"}
	got, err = applyOptions(JobSpec{Image: "public.example.com/app", RegistryAuth: explicit}, []Option{WithRegistryAuthFromDockerConfig()})
	require.NoError(t, err)
	assert.Equal(t, explicit, got.RegistryAuth, "no stored credentials: the explicit ones stay")

	_, err = applyOptions(JobSpec{}, []Option{WithRegistryAuthFromDockerConfig(), WithImage("reg.example.com:5000/app")})
	var specErr *SpecError
	require.ErrorAs(t, err, &specErr, "the image must come first")
	assert.Equal(t, "Image", specErr.Field)
	assert.Contains(t, specErr.Fix, "before WithRegistryAuthFromDockerConfig")
}
