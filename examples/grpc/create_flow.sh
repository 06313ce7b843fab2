#!/usr/bin/env bash
# Creates a flow on a running ./bin/ductstream from a flow JSON file, using the local proto files
# (proto/ductstream/v1/*.proto): grpcurl when it is installed, else `buf curl` (npm @bufbuild/buf,
# a dev dependency of this repository).
#
#   examples/grpc/create_flow.sh [FLOW.json] [--start]
#
#   FLOW.json   default examples/flows/duckdb.json
#   --start     start the flow right away (start_immediately)
#   DUCTSTREAM_GRPC_ADDR    host:port of the server (default: DUCTSTREAM_GRPC_LISTEN, ":8080" → localhost:8080)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FLOW_FILE="$ROOT/examples/flows/duckdb.json"
START=false
for arg in "$@"; do
  case "$arg" in
    --start) START=true ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) FLOW_FILE="$arg" ;;
  esac
done
[ -r "$FLOW_FILE" ] || { echo "create_flow.sh: cannot read $FLOW_FILE" >&2; exit 2; }

LISTEN="${DUCTSTREAM_GRPC_LISTEN:-:8080}"
ADDR="${DUCTSTREAM_GRPC_ADDR:-$LISTEN}"
case "$ADDR" in :*) ADDR="localhost$ADDR" ;; esac
METHOD="ductstream.v1.FlowService/CreateFlow"
BODY="$(printf '{"flow": %s, "start_immediately": %s}' "$(cat "$FLOW_FILE")" "$START")"

if command -v grpcurl >/dev/null 2>&1; then
  printf '%s' "$BODY" | grpcurl -plaintext -import-path "$ROOT/proto" -proto ductstream/v1/flow.proto -d @ "$ADDR" "$METHOD"
else
  BUF="$(command -v buf || true)"
  [ -n "$BUF" ] || BUF="$ROOT/node_modules/.bin/buf"
  [ -x "$BUF" ] || { echo "create_flow.sh: neither grpcurl nor buf is installed; run npm install (it ships buf) or install grpcurl" >&2; exit 2; }
  printf '%s' "$BODY" | "$BUF" curl --schema "$ROOT/proto" --protocol grpc --http2-prior-knowledge -d @- "http://$ADDR/$METHOD"
fi
