# oneshot: run one-shot jobs on Docker Swarm.
#
#   make demo        run a demo job on the local swarm (images built locally)
#   make test        unit + integration tests (single-node and 3-node DinD swarms;
#                    the multi-node suite on Docker 20.10, its short form on 26.1)
#   make test-trixie the multi-node suite's short form on Docker 26.1 (DIND_TESTS=... for more)
#   make test-unit   unit tests only: no Docker needed
#   make fuzz        each fuzz test for FUZZTIME (300000 runs); make test fuzzes each for 5000
#   make bench       oneshot against the docker CLI and docker run
#   make soak        300 jobs of every kind on each test swarm, Prune in a loop beside
#
# Everything the targets need is installed or built by the project's own
# scripts, idempotently: a new machine needs Go and a running Docker engine.

GO       ?= go
PKGS_UNIT = $(shell $(GO) list ./... | grep -v /integration)

.PHONY: demo test test-unit fuzz-short fuzz test-integration test-trixie lint images swarm setup bench soak clean-swarm

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
# Budgets in executions, not seconds: a -fuzztime in seconds can fail a
# run with a bare "context deadline exceeded" as it ends, a race in Go's
# fuzzing coordinator (go.dev/issue/75804, fixed in Go 1.27), seen here.
FUZZTIME       ?= 300000x
FUZZTIME_SHORT ?= 5000x

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

# fuzz-short fuzzes each target 5000 times (a second or two: make test); fuzz for longer.
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
	$(MAKE) --no-print-directory test-trixie

# The DinD swarm's tests again, on Docker 26.1 (Debian trixie's engine, the
# newest Debian packages; the first run's DinD swarm is Docker 20.10, the
# oldest oneshot supports): the short form, to keep make test short: the
# swarm's set-up and engine check, a job on a worker, node loss, output and
# a timeout on a worker, a global job, the soak's short form, a cut event
# stream. DIND_TESTS_ALL is the whole multi-node suite:
# make test-trixie DIND_TESTS='$(DIND_TESTS_ALL)'.
DIND_TESTS_ALL = ^(TestDinD.*|TestFailoverKeepsJobsThroughAManagersLoss|TestRemoteEngine|TestFaultDinD.*|TestSoakDinD)$$
DIND_TESTS    ?= ^(TestDinD(Engine|SwarmSetUp|JobOnAWorkerFoundByThePoll|WorkerLostMidJob|OutputOnAWorker|TimeoutOnAWorker|TasksGlobal)|TestSoakDinD|TestFaultDinDEventStreamCut)$$

test-trixie: export TESTCONTAINERS_RYUK_DISABLED = true
test-trixie: export TESTCONTAINERS_HOST_OVERRIDE = 127.0.0.1
test-trixie: export ONESHOT_DIND_ENGINE = trixie
test-trixie: images
	$(GO) test -count=1 -timeout 15m -run '$(DIND_TESTS)' ./integration/

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

images:
	scripts/build-images.sh
	integration/dind/build-node-image.sh
	integration/dind/build-node-image.sh trixie

swarm:
	scripts/ensure-swarm.sh

setup:
	scripts/setup.sh

# One run of BenchmarkOneshot prints one table: oneshot and its peers (the
# docker CLI's swarm job, docker run) measured side by side in the same run,
# as ratios, with the goals of issue 12: requests per job and per second,
# whole processes, 50 and 200 jobs at once, heap per job, 100 MiB streamed,
# how soon a job's end is noticed (the last on a DinD swarm it starts).
bench: export TESTCONTAINERS_RYUK_DISABLED = true
bench: export TESTCONTAINERS_HOST_OVERRIDE = 127.0.0.1
bench: swarm images
	$(GO) test -run '^$$' -bench '^BenchmarkOneshot$$' -benchtime 1x -count 1 -timeout 30m ./integration/

# The soak in its full form: 300 jobs from 20 goroutines on one Runner, on the
# single-node swarm and on the 3-node DinD swarm (jobs on its workers), while
# another process prunes in a loop; -v prints the counts. make test runs the
# short form (60 and 30 jobs). ONESHOT_SOAK_SEED=N plays a run's plan again
# (each run logs its seed).
soak: export TESTCONTAINERS_RYUK_DISABLED = true
soak: export TESTCONTAINERS_HOST_OVERRIDE = 127.0.0.1
soak: export ONESHOT_SOAK = full
soak: swarm images
	$(GO) test -count=1 -timeout 30m -v -run '^TestSoak(SingleNode|DinD)$$' ./integration/

# Leaves the single-node swarm that `make swarm` made (removes every service!).
clean-swarm:
	docker swarm leave --force
