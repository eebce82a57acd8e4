#!/usr/bin/env bash
# Runs examples/echo_server.ts under Wine (Windows Deno, the afd Selector by
# default), in sync, async and listen mode (the last: for await over the
# listener, one async loop per connection, the reactor on afd), and checks it:
#   - byte-exact echo to tools/wine/echo_check.ts run by Linux Deno (epoll)
#     and by Windows Deno under Wine (afd): payloads of 1 B to 1 MiB on
#     many connections at once, each half-closed and ended by the server;
#   - examples/echo_client.ts under Wine (ping-pong, echoed bytes compared);
#   - a graceful stop: SIGINT to the server's process is Ctrl-C inside Wine,
#     which Deno hands to the server's SIGINT listener; it must print its
#     `stopped: …` line and exit 0.
# Needs root (as tools/wine/run.sh) and tools/wine/setup.sh done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
say() { echo "echo-check: $*" >&2; }
work=$(mktemp -d)
server=""
cleanup() {
  # Only the server this script started, by its id.
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The deno.exe process run.sh started (its child), to send SIGINT to.
deno_exe_of() {
  ps -o pid=,args= --ppid "$1" | awk '/deno\.exe/ { print $1; exit }'
}

for mode in sync async listen; do
  say "starting examples/echo_server.ts --mode $mode under Wine"
  NO_COLOR=1 tools/wine/run.sh run --allow-ffi examples/echo_server.ts --port 0 --mode "$mode" \
    >"$work/out" 2>"$work/err" &
  server=$!
  port=""
  for _ in $(seq 1 600); do # 60 s for the first line
    port=$(sed -n 's/^listening on [^ ]*:\([0-9][0-9]*\) .*/\1/p' "$work/out")
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    say "the server printed no 'listening on' line"; cat "$work/out" "$work/err" >&2; exit 1
  fi
  say "$(head -n1 "$work/out")"
  ./denow run --allow-ffi tools/wine/echo_check.ts --port "$port" --connections 24 --seed 1
  NO_COLOR=1 tools/wine/run.sh run --allow-ffi tools/wine/echo_check.ts --port "$port" \
    --connections 12 --seed 2
  NO_COLOR=1 tools/wine/run.sh run --allow-ffi examples/echo_client.ts --port "$port" \
    --connections 8 --size 3000 --seconds 1 --warmup 0.2
  exe=$(deno_exe_of "$server")
  if [ -z "$exe" ]; then say "no deno.exe process under $server"; exit 1; fi
  kill -INT "$exe"
  status=0
  for _ in $(seq 1 300); do # 30 s to stop
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server" 2>/dev/null; then say "the server did not stop on SIGINT"; exit 1; fi
  wait "$server" || status=$?
  server=""
  if [ "$status" != 0 ] || ! grep -Eq '^stopped: closed 0 connections(, the listener and the selector| and the listener \([0-9]+ served\))$' "$work/out"; then
    say "the server did not stop cleanly (exit $status):"; cat "$work/out" "$work/err" >&2; exit 1
  fi
  say "$mode: echo byte-exact, stopped cleanly by SIGINT (Ctrl-C)"
done
say "ok"
