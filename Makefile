# oneshot: run one-shot jobs on Docker Swarm.
#
#   make demo        run a demo job on the local swarm (images built locally)
#   make test        unit + integration tests (single-node and 3-node DinD swarms)
#   make test-unit   unit tests only: no Docker needed
#   make bench       oneshot against the docker CLI and docker run
#
# Everything the targets need is installed or built by the project's own
# scripts, idempotently: a new machine needs Go and a running Docker engine.

GO       ?= go
PKGS_UNIT = $(shell $(GO) list ./... | grep -v /integration)

.PHONY: demo test test-unit test-integration lint images swarm setup bench clean-swarm

demo: swarm bin/oneshot
	@scripts/build-images.sh jobkit
	@echo "--- bin/oneshot run oneshot-jobkit:dev demo"
	@code=0; bin/oneshot run oneshot-jobkit:dev demo || code=$$?; \
	echo "--- the job exited with code $$code, and so did 'oneshot run' (the demo job exits 3 on purpose)"; \
	test $$code -eq 3

bin/oneshot: $(shell find . -name '*.go' -not -path './integration/*')
	$(GO) build -o bin/oneshot ./examples/oneshot

test: setup lint test-unit test-integration

test-unit:
	$(GO) test -count=1 $(PKGS_UNIT)

# Ryuk (testcontainers' reaper) cannot be pulled here: the tests tear their
# DinD swarm down themselves. /.dockerenv exists on some CI machines, which
# makes testcontainers look for the engine's gateway instead of loopback.
test-integration: export TESTCONTAINERS_RYUK_DISABLED = true
test-integration: export TESTCONTAINERS_HOST_OVERRIDE = 127.0.0.1
test-integration: swarm images
	$(GO) test -count=1 -timeout 25m ./integration/...

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

images:
	scripts/build-images.sh
	integration/dind/build-node-image.sh

swarm:
	scripts/ensure-swarm.sh

setup:
	scripts/setup.sh

# BenchmarkFiftyTasks runs 150 jobs' worth of tasks an iteration: twice is enough.
bench: swarm images
	$(GO) test -run '^$$' -bench '^Benchmark(TrivialJob|TwentyJobsAtOnce|LargeOutput)$$' -benchtime 10x -count 1 ./integration/
	$(GO) test -run '^$$' -bench '^BenchmarkFiftyTasks$$' -benchtime 2x -count 1 ./integration/

# Leaves the single-node swarm that `make swarm` made (removes every service!).
clean-swarm:
	docker swarm leave --force
