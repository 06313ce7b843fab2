#!/usr/bin/env bash
# Checks the machine for what `npm test` (or, with `demo`, `npm run demo`) needs beyond npm
# packages, before anything is built or started:
#   - PostgreSQL server binaries (initdb, pg_ctl): the tests and the demo start private clusters;
#   - kcat: the Kafka-protocol test broker is librdkafka's mock cluster, started through kcat (tests only);
#   - Node.js 20 or newer.
# When something is missing it prints what and the one command that installs it, and exits 1.
#
#   scripts/check-prereqs.sh [test|demo]     check (default: test)
#   scripts/check-prereqs.sh --packages      print the missing Debian packages (for .ci/run), exit 0
set -uo pipefail

what="${1:-test}"
missing=()
notes=()

has_initdb() {
  [ -n "${DUCTSTREAM_PG_BIN:-}" ] && [ -x "${DUCTSTREAM_PG_BIN}/initdb" ] && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
  command -v initdb >/dev/null 2>&1
}

if ! has_initdb; then
  missing+=(postgresql)
  notes+=("PostgreSQL server binaries (initdb, pg_ctl) were not found under /usr/lib/postgresql/*/bin, on PATH or in DUCTSTREAM_PG_BIN")
fi
if [ "$what" != "demo" ] && ! command -v kcat >/dev/null 2>&1; then
  missing+=(kcat)
  notes+=("kcat was not found: the Kafka tests start librdkafka's mock broker through it")
fi

if [ "$what" = "--packages" ]; then
  echo "${missing[*]:-}"
  exit 0
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  notes+=("Node.js $(node -v 2>/dev/null || echo 'is missing'): DuctStream needs Node.js 20 or newer")
fi

if [ ${#notes[@]} -eq 0 ]; then exit 0; fi
{
  echo "npm $what: this machine is missing what it needs:"
  for n in "${notes[@]}"; do echo "  - $n"; done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" != "0" ]; then sudo="sudo "; fi
    echo "Install with:"
    echo "  ${sudo}apt-get update && ${sudo}apt-get install -y ${missing[*]}"
  fi
  echo "then run npm $what again. Nothing was run."
} >&2
exit 1
