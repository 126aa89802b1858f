package oneshot_test

import (
	"context"
	"fmt"
	"log"

	"github.com/oneshot-go/oneshot"
)

// Run a job on a remote swarm manager reached over ssh, as
// `docker -H ssh://deploy@manager.example.com` would: the ssh client's own
// configuration (~/.ssh/config, ssh-agent, known_hosts) says which key logs
// in, and the manager needs only sshd and the docker CLI.
func ExampleWithHost() {
	r, err := oneshot.NewRunner(oneshot.WithHost("ssh://deploy@manager.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	res, err := r.Run(context.Background(), oneshot.JobSpec{Image: "registry.example.com/report:v7"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", res.Stdout)
}

// Run a job on the engine of a docker context, made once with
// `docker context create prod --docker "host=tcp://manager.example.com:2376,ca=ca.pem,cert=cert.pem,key=key.pem"`:
// its host and TLS material come from the docker CLI's context store.
// Without the option, NewRunner follows DOCKER_HOST, DOCKER_CONTEXT and
// then `docker context use`, as the docker CLI does.
func ExampleWithContext() {
	r, err := oneshot.NewRunner(oneshot.WithContext("prod"))
	if err != nil {
		log.Fatal(err) // e.g. the context does not exist
	}
	defer r.Close()
	res, err := r.Run(context.Background(), oneshot.JobSpec{Image: "registry.example.com/migrations:v42", Command: []string{"migrate", "up"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", res.Stdout)
}

// A host that cannot be an engine's address is refused by NewRunner,
// before anything is asked of any engine.
func ExampleWithHost_malformed() {
	_, err := oneshot.NewRunner(oneshot.WithHost("tcp://manager.example.com:23760x"))
	fmt.Println(err)
	_, err = oneshot.NewRunner(oneshot.WithHost("ssh://deploy:hunter2@manager.example.com"))
	fmt.Println(err)
	// Output:
	// oneshot: WithHost("tcp://manager.example.com:23760x"): malformed host "tcp://manager.example.com:23760x": want tcp://HOST:PORT
	// oneshot: WithHost("ssh://deploy:xxxxx@manager.example.com"): ssh host "ssh://deploy:xxxxx@manager.example.com" has a password: passwords are not supported, use a key (ssh-agent, or IdentityFile in ~/.ssh/config)
}
