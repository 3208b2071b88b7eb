# pyops.webstack: one entry point for development, tests and the demo. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
CACHE := .cache
COLLECTIONS := $(CURDIR)/$(CACHE)/collections
# Scenarios run two at a time (2 cores), each starting when a slot frees, longest first, so that no long one starts
# last and runs alone at the end. Measured figures: bench/findings.md.
SCENARIOS ?= stack python_app background acme hardening proxy_apache proxy_nginx deploy_user
JOBS ?= 2

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0
export MOLECULE_NO_LOG := false

.PHONY: help venv link engine images lint unit sanity package molecule molecule-all converge verify destroy test bench demo demo-deploy demo-destroy clean clean-images

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## Create .venv from requirements-dev.txt

link: ## Expose this checkout as ansible_collections/pyops/webstack (a symlink under .cache)
	@mkdir -p $(COLLECTIONS)/ansible_collections/pyops
	@ln -sfn ../../../.. $(COLLECTIONS)/ansible_collections/pyops/webstack

engine: ## Make sure a Docker engine runs (installs docker.io as root on Debian)
	@tests/harness/docker-engine.sh

images: engine ## Build the Debian 12/13 systemd base images and the git server image (kept once built)
	@tests/harness/images.sh 12 13
	@tests/harness/gitserver-image.sh

lint: venv link ## yamllint and ansible-lint (production profile)
	yamllint --strict .
	ansible-lint

unit: venv link ## Unit tests: contracts of the roles, the harness, the reference app
	pytest -n 2 tests/unit

sanity: venv ## ansible-test sanity on the collection's plugins (a copy under .cache/sanity)
	tests/harness/sanity.sh

package: venv ## Build the collection tarball, install it elsewhere and run it by its full names
	tests/harness/package-check.sh

molecule: venv link images ## Run one scenario: make molecule SCENARIO=deploy_user
	@test -n "$(SCENARIO)" || { echo "usage: make molecule SCENARIO=<$(SCENARIOS)>"; exit 2; }
	tests/harness/run-scenarios.sh 1 $(SCENARIO)

molecule-all: venv link images
	tests/harness/run-scenarios.sh $(JOBS) $(SCENARIOS)

verify: venv link ## Run a converged scenario's tests as plain pytest: make verify SCENARIO=deploy_user
	@test -n "$(SCENARIO)" || { echo "usage: make verify SCENARIO=<$(SCENARIOS)>"; exit 2; }
	pytest -p no:cacheprovider --hosts=ansible://all \
	  --ansible-inventory=$(CURDIR)/$(CACHE)/molecule/$(SCENARIO)/inventory molecule/$(SCENARIO)/tests

converge: venv link images ## Create and converge one scenario, leaving it up: make converge SCENARIO=deploy_user
	@test -n "$(SCENARIO)" || { echo "usage: make converge SCENARIO=<$(SCENARIOS)>"; exit 2; }
	molecule converge -s $(SCENARIO)

destroy: venv ## Destroy one scenario's containers: make destroy SCENARIO=deploy_user
	molecule destroy -s $(SCENARIO)

# lint, the unit tests, ansible-test sanity and the images (debootstrap downloads on a fresh machine) run side by
# side, three at a time; then the package
# check (its own container, two and a half minutes) beside the scenarios, whose first minutes wait on containers.
# That second stage is not output-synced: each job prints whole lines, and the scenarios' "started/passed" lines
# then show as they happen (synced per recipe line, they all came at the end).
test: ## Everything CI runs: lint, unit, sanity, package, every molecule scenario
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory venv link; \
	$(MAKE) --no-print-directory -j3 --output-sync=target lint unit sanity images; \
	$(MAKE) --no-print-directory -j2 package molecule-all; \
	echo "make test: all passed in $$(( $$(date +%s) - start )) s"

$(VENV)/.bench-installed: $(VENV)/.installed tests/bench/requirements.txt
	$(VENV)/bin/pip install --quiet -r tests/bench/requirements.txt
	touch $@

bench: venv link images $(VENV)/.bench-installed ## Measure converge, deploy, serving, hardening: bench/report.md
	tests/bench/bench.py

demo: venv link images ## A running estate in local containers, ending with its URL and a working page
	tests/harness/demo.sh up

demo-deploy: venv link ## Ship the next version to the demo with no downtime (VERSION=v2.0.0)
	tests/harness/demo.sh deploy $(or $(VERSION),v2.0.0)

demo-destroy: venv ## Remove the demo
	tests/harness/demo.sh destroy

clean: ## Remove test containers, networks, .cache (keeps .venv and images)
	-docker ps -aq --filter label=pyops.webstack.scenario | xargs -r docker rm -f >/dev/null
	-docker network ls -q --filter label=pyops.webstack.scenario | xargs -r docker network rm >/dev/null
	rm -rf $(CACHE) .ansible .pytest_cache

clean-images: ## Remove the built images too
	-docker rmi pyops-webstack/gitserver:latest pyops-webstack/debian:12 pyops-webstack/debian:13
