# oneshot: run one-shot jobs on Docker Swarm.
#
#   make demo        run a demo job on the local swarm (images built locally)
#   make test        unit + integration tests (single-node and 3-node DinD swarms)
#   make test-unit   unit tests only: no Docker needed
#   make fuzz        each fuzz test for FUZZTIME (60s); make test fuzzes each for a few seconds
#   make bench       oneshot against the docker CLI and docker run
#
# Everything the targets need is installed or built by the project's own
# scripts, idempotently: a new machine needs Go and a running Docker engine.

GO       ?= go
PKGS_UNIT = $(shell $(GO) list ./... | grep -v /integration)

.PHONY: demo test test-unit fuzz-short fuzz test-integration lint images swarm setup bench clean-swarm

demo: swarm bin/oneshot
	@scripts/build-images.sh jobkit
	@echo "--- bin/oneshot run oneshot-jobkit:dev demo"
	@code=0; bin/oneshot run oneshot-jobkit:dev demo || code=$$?; \
	echo "--- the job exited with code $$code, and so did 'oneshot run' (the demo job exits 3 on purpose)"; \
	test $$code -eq 3

bin/oneshot: $(shell find . -name '*.go' -not -path './integration/*')
	$(GO) build -o bin/oneshot ./examples/oneshot

test: setup lint test-unit fuzz-short test-integration

test-unit:
	$(GO) test -count=1 $(PKGS_UNIT)

# The fuzz tests (go test -fuzz): each fuzz test of the unit packages' test
# files, one at a time (Go fuzzes one target an invocation). Each package's
# test binary is built once, with the fuzzing instrumentation, outside the
# tree; it runs in the package's directory, as go test runs it, with go
# test's corpus cache. A failing input is written to the package's
# testdata/fuzz/FuzzName/: fix the bug, and keep the input there, where go
# test runs it as a seed.
FUZZ_DIRS      = $(sort $(dir $(shell grep -rlE --include='*_test.go' '^func Fuzz' . | grep -v -e '^\./integration/' -e '/testdata/')))
FUZZTIME       ?= 60s
FUZZTIME_SHORT ?= 3s

define fuzz-each
	@set -e; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; cache=$$($(GO) env GOCACHE)/fuzz; \
	for dir in $(FUZZ_DIRS); do \
		pkg=$$($(GO) list $$dir); \
		$(GO) test -c -fuzz . -o $$bin/fuzz.test $$dir; \
		for name in $$(grep -h -o -E '^func Fuzz[A-Za-z0-9_]+' $$dir*_test.go | cut -d' ' -f2 | sort); do \
			echo "--- fuzz $$name ($$pkg) for $(1)"; \
			(cd $$dir && $$bin/fuzz.test -test.run '^$$' -test.fuzz "^$$name\$$" -test.fuzztime $(1) -test.fuzzcachedir "$$cache/$$pkg" -test.paniconexit0); \
		done; \
	done
endef

# fuzz-short fuzzes each target for a few seconds (make test); fuzz for longer.
fuzz-short:
	$(call fuzz-each,$(FUZZTIME_SHORT))

fuzz:
	$(call fuzz-each,$(FUZZTIME))

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
