# Every target runs on the Node 24 that npm installs into node_modules/.bin.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

JEST := node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js
DEPS := node_modules/.fledge-deps
REPORTS := coverage

.PHONY: help deps tools setup lint typecheck generate generated-check unit integration test build demo demo-gitops sandbox-up sandbox-down clean bench bench-flagger

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(DEPS): package.json package-lock.json
	@# ci installs exactly what the lock says and fails rather than rewrite it, so a fresh clone stays
	@# clean; the lock must therefore list every platform's optional packages, as npm install writes it.
	npm ci --no-audit --no-fund
	@node -e 'if (process.versions.node.split(".")[0] !== "24") { console.error("expected Node 24 from node_modules/.bin, got " + process.version); process.exit(1) }'
	@touch $@

deps: $(DEPS) ## install npm dependencies, Node 24 included

tools: ## install Prometheus and build the control plane (cached under ~/.cache/fledge)
	hack/ensure-tools.sh

setup: deps tools ## everything the tests and the demo need

lint: deps ## ESLint and Prettier
	eslint .
	prettier --check .

typecheck: deps ## strict TypeScript over sources, tests and scripts
	tsc -p tsconfig.json

generate: deps ## regenerate CRDs from the API schemas
	node hack/generate.ts

generated-check: deps ## fail when generated files are stale
	node hack/generate.ts --check

unit: deps ## unit tests (no cluster)
	@mkdir -p $(REPORTS)
	$(JEST) --selectProjects unit --maxWorkers=2 --coverage --json --outputFile=$(REPORTS)/unit.json
	@node hack/jest-summary.ts unit $(REPORTS)/unit.json

integration: setup ## integration tests on a real control plane and Prometheus
	@mkdir -p $(REPORTS)
	@# Two workers: files mostly wait on intervals, and each keeps to its own namespace (docs/testing.md).
	@# --forceExit: a suite whose set-up failed can leave an operator process running, which would keep
	@# Jest alive after the results are written; the reaper stops every harness process once Jest exits.
	$(JEST) --selectProjects integration --maxWorkers=2 --forceExit --json --outputFile=$(REPORTS)/integration.json
	@node hack/jest-summary.ts integration $(REPORTS)/integration.json

test: setup lint typecheck generated-check unit integration ## every check and test

build: deps ## compile to dist/
	tsc -p tsconfig.build.json

demo: setup ## Fledge on the local sandbox, walking a sample canary to promotion (Ctrl-C stops)
	node hack/demo.ts

demo-gitops: setup ## the GitOps path: commits to a local Git repo, applied by Flux, released by Fledge, naming each commit
	hack/build-tools.sh flux
	node hack/demo-gitops.ts

sandbox-up: setup ## start the sandbox in the background and print its KUBECONFIG
	node hack/sandbox.ts up

sandbox-down: deps ## stop the background sandbox
	node hack/sandbox.ts down

clean: ## remove build output
	rm -rf dist $(REPORTS)

bench: setup ## benchmarks: micro, then N canaries on a control plane (BENCH_FLAGS="--sizes=10,100"); never asserted
	node --expose-gc bench/run.ts $(BENCH_FLAGS)

bench-flagger: setup ## the control-plane benchmark for Fledge and Flagger v1.44 (built on first use), interleaved
	node --expose-gc bench/run.ts --against-flagger --out=.bench/against-flagger.json $(BENCH_FLAGS)
