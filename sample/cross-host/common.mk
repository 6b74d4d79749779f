# Shared by master/Makefile and replicant/Makefile: each sets SERVICE (its
# compose service), TLS_MARK (the file whose presence turns TLS on),
# ROLE_CHECK (a shell check run before `up`) and DC_ENV (VAR=value words put
# before each compose command), then includes this file.
# Commands run `docker compose` (v2) when it is there and `docker-compose`
# (v1) otherwise; `make COMPOSE=...` overrides.

COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
IMAGE ?= pgkeeper/postgis:latest
# The database that `make shell` opens.
DB ?= gis

HERE := $(dir $(abspath $(firstword $(MAKEFILE_LIST))))
TLS_DIR := $(abspath $(or $(PGKEEPER_TLS_DIR),$(HERE)tls))
# Once the TLS files are in ./tls (README.md), every command adds tls.yml.
# COMPOSE_OVERRIDE names one more compose file (the end-to-end test attaches
# each simulated machine's network with it).
FILES = docker-compose.yml$$(test -f '$(TLS_MARK)' && echo :tls.yml)$(if $(COMPOSE_OVERRIDE),:$(COMPOSE_OVERRIDE))
# The value of a setting: from the shell if set there, else from .env.
SETTING = $${$(1):-$$(sed -n 's/^$(1)=//p' $(HERE).env | tail -n 1)}
DC = cd $(HERE) && $(DC_ENV) PGKEEPER_TLS_DIR='$(TLS_DIR)' COMPOSE_FILE="$(FILES)" $(COMPOSE)
# Without a terminal (e.g. `echo 'SELECT 1' | make shell`) exec needs -T.
EXEC := exec $(shell test -t 0 || echo -T)

.PHONY: help up down clean status logs shell bash image build

## help: list these targets (the default)
help:
	@sed -n 's/^## //p' $(HERE)Makefile $(HERE)../common.mk

## up: start this machine's node (builds the image first if it is missing)
up: image
	@test -n "$(call SETTING,POSTGRES_PASS)" || { echo "up: set POSTGRES_PASS in $(HERE).env (the same on both machines)" >&2; exit 2; }
	@$(ROLE_CHECK)
	@if test -f '$(TLS_MARK)'; then echo "up: with TLS files from $(TLS_DIR) (tls.yml)"; \
	 else echo "up: without TLS files of your own (README.md, \"TLS across the network\")"; fi
	$(DC) up -d

## down: stop and remove the container; the data volume is kept
down:
	$(DC) down

## clean: like down, and delete the data volume too
clean:
	$(DC) down -v --remove-orphans

## status: the container, then the node's role, phase, LSNs, lag and refusals (pgkeeper status)
status:
	@$(DC) ps
	@if test -n "$$($(DC) ps -q $(SERVICE) 2>/dev/null)"; then $(DC) exec -T $(SERVICE) pgkeeper status; \
	 else echo "status: $(SERVICE) is not running here (make up)"; fi

## logs: follow the node's log
logs:
	$(DC) logs -f $(SERVICE)

## shell: psql in the node, as POSTGRES_USER; bash: a shell in it
shell:
	$(DC) $(EXEC) $(SERVICE) sh -c 'exec psql -U "$${POSTGRES_USER:-docker}" -d "$(DB)"'

bash:
	$(DC) $(EXEC) $(SERVICE) bash

## image: build the image only if it is missing; build: always rebuild it
image:
	@docker image inspect $(IMAGE) >/dev/null 2>&1 || $(HERE)../../../build.sh

build:
	$(HERE)../../../build.sh
