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
#   DUCTSTREAM_API_TOKEN    sent as "authorization: Bearer <token>" (the first one of a comma-separated list)
#   DUCTSTREAM_GRPC_CA      PEM file to trust for TLS (default DUCTSTREAM_GRPC_TLS_CERT); set: connect with TLS
#   DUCTSTREAM_GRPC_CLIENT_CERT, DUCTSTREAM_GRPC_CLIENT_KEY   client certificate for mutual TLS
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FLOW_FILE="$ROOT/examples/flows/duckdb.json"
START=false
for arg in "$@"; do
  case "$arg" in
    --start) START=true ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) FLOW_FILE="$arg" ;;
  esac
done
[ -r "$FLOW_FILE" ] || { echo "create_flow.sh: cannot read $FLOW_FILE" >&2; exit 2; }

LISTEN="${DUCTSTREAM_GRPC_LISTEN:-:8080}"
ADDR="${DUCTSTREAM_GRPC_ADDR:-$LISTEN}"
case "$ADDR" in :*) ADDR="localhost$ADDR" ;; esac
METHOD="ductstream.v1.FlowService/CreateFlow"
BODY="$(printf '{"flow": %s, "start_immediately": %s}' "$(cat "$FLOW_FILE")" "$START")"

# The token never goes on a command line (other users could read it in ps): grpcurl expands it from
# the environment, buf curl reads it with the request from stdin.
TOKEN="${DUCTSTREAM_API_TOKEN:-}"
TOKEN="${TOKEN%%,*}"
TOKEN="$(printf '%s' "$TOKEN" | tr -d '[:space:]')"
CA="${DUCTSTREAM_GRPC_CA:-${DUCTSTREAM_GRPC_TLS_CERT:-}}"
CLIENT_CERT="${DUCTSTREAM_GRPC_CLIENT_CERT:-}"
CLIENT_KEY="${DUCTSTREAM_GRPC_CLIENT_KEY:-}"

if command -v grpcurl >/dev/null 2>&1; then
  ARGS=(-import-path "$ROOT/proto" -proto ductstream/v1/flow.proto -d @)
  if [ -n "$CA" ]; then ARGS+=(-cacert "$CA"); else ARGS+=(-plaintext); fi
  [ -n "$CLIENT_CERT" ] && ARGS+=(-cert "$CLIENT_CERT" -key "$CLIENT_KEY")
  # shellcheck disable=SC2016 # expanded by grpcurl, not by the shell
  [ -n "$TOKEN" ] && ARGS+=(-expand-headers -H 'authorization: Bearer ${DUCTSTREAM_GRPC_BEARER}')
  printf '%s' "$BODY" | DUCTSTREAM_GRPC_BEARER="$TOKEN" grpcurl "${ARGS[@]}" "$ADDR" "$METHOD"
else
  BUF="$(command -v buf || true)"
  [ -n "$BUF" ] || BUF="$ROOT/node_modules/.bin/buf"
  [ -x "$BUF" ] || { echo "create_flow.sh: neither grpcurl nor buf is installed; run npm install (it ships buf) or install grpcurl" >&2; exit 2; }
  ARGS=(curl --schema "$ROOT/proto" --protocol grpc -d @-)
  if [ -n "$CA" ]; then
    ARGS+=(--cacert "$CA")
    [ -n "$CLIENT_CERT" ] && ARGS+=(--cert "$CLIENT_CERT" --key "$CLIENT_KEY")
    URL="https://$ADDR/$METHOD"
  else
    ARGS+=(--http2-prior-knowledge)
    URL="http://$ADDR/$METHOD"
  fi
  if [ -n "$TOKEN" ]; then
    # headers, a blank line, then the body, all from stdin
    printf 'authorization: Bearer %s\n\n%s' "$TOKEN" "$BODY" | "$BUF" "${ARGS[@]}" -H @- "$URL"
  else
    printf '%s' "$BODY" | "$BUF" "${ARGS[@]}" "$URL"
  fi
fi
