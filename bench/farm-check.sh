#!/usr/bin/env bash
# End-to-end check against a generated feed farm: 200 feeds x 50 items served
# on loopback; one `wirewatch poll` must store every English item that
# mentions a watch subject (and no trap), and a second poll nothing new.
# Needs the feedfarm tool (FEEDFARM, default ../shared/bench/feedfarm).
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDFARM=${FEEDFARM:-../shared/bench/feedfarm}
FEEDS=${FEEDS:-200}
ITEMS=${ITEMS:-50}
if [ ! -f "$FEEDFARM/go.mod" ]; then
  echo "farm-check: no feedfarm at $FEEDFARM (set FEEDFARM); skipped"
  exit 0
fi
work=$(mktemp -d)
serve_pid=
cleanup() { [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

go build -C "$FEEDFARM" -o "$work/feedfarm" .
go build -o "$work/wirewatch" ./cmd/wirewatch
go build -o "$work/farmcheck" ./bench/farmcheck
"$work/feedfarm" gen -out "$work/farm" -feeds "$FEEDS" -items "$ITEMS" -seed 1
"$work/feedfarm" serve -dir "$work/farm" -addr 127.0.0.1:0 -hosts 4 > "$work/urls.txt" 2> "$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do
  [ "$(wc -l < "$work/urls.txt")" -ge "$FEEDS" ] && break
  sleep 0.1
done

{
  echo "schedule: '@every 15m'"
  echo "feeds_file: urls.txt"
  sed -n '/^watchlist:/,/^http:/p' config/wirewatch.yaml | sed '$d'
  # The farm puts 50 feeds on each loopback address, which no publisher does;
  # the check is about what is stored, so no gap between requests to a host.
  printf 'http:\n  listen: "off"\nfetch:\n  allow_private_networks: true\n  per_host_concurrency: 4\n  per_host_interval: 0s\n'
} > "$work/wirewatch.yaml"

bin/devdb with -- sh -c '
  set -e
  echo "== first poll";  '"$work"'/wirewatch poll --migrate --config '"$work"'/wirewatch.yaml 2>/dev/null | head -1
  '"$work"'/farmcheck $FARMCHECK_FLAGS -truth '"$work"'/farm/truth.jsonl
  echo "== second poll"; out=$('"$work"'/wirewatch poll --config '"$work"'/wirewatch.yaml 2>/dev/null | head -1); echo "$out"
  case "$out" in *"; 0 new matches"*) echo "OK: the second poll stored nothing new";; *) echo "FAIL: the second poll stored new items"; exit 1;; esac
'
