# syncwire — every target installs what it needs on a fresh clone.
NODE_MODULES := node_modules/.package-lock.json

.PHONY: setup build test bench demo chaos vectors clean

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

setup: $(NODE_MODULES)

build: $(NODE_MODULES)
	npx tsc -p tsconfig.json

test: build
	npx tsc -p tsconfig.test.json
	npx tap

bench: build
	node dist/bench/run.js

demo: build
	node dist/agent/cli/main.js demo $(DEMO_ARGS)

chaos: build
	node dist/bench/chaos-v2.js

vectors: build
	node dist/scripts/gen-checks.js
	node dist/scripts/gen-vectors.js

clean:
	rm -rf dist .tap coverage
