#!/usr/bin/env bash
# One `wirewatch run` against a farm where 30% of the feeds misbehave: the
# 14 faults of feedfarm serve -faults (errors, Retry-After, redirects, a
# trickle, cut and truncated bodies, an HTML page, a 60 MiB feed, a gzip
# bomb, windows-1252, an entity bomb, items without any identity). 1,000
# feeds x 20 items on 8 loopback addresses, polled every minute with a 10 s
# fetch timeout and the default politeness (2 requests in flight per
# address, 250 ms apart: 125 feeds take 31 s per address and round; on 4
# addresses the 63 s would not fit in the minute), until the moved feeds
# have been polled at their new URL (four polls: the move takes three).
# Then every fault kind must have got its outcome (bench/faultcheck prints
# the table), every article of the other feeds must be stored
# (bench/farmcheck), and the process's peak RSS must stay under 250 MiB.
# About 6 minutes.
# Needs the feedfarm tool (FEEDFARM, default ../shared/bench/feedfarm).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
FEEDS=${FEEDS:-1000}
ITEMS=${ITEMS:-20}
MAX_RSS_MIB=${MAX_RSS_MIB:-250}
bench_init faults-check "$@"
go build -o "$work/faultcheck" ./bench/faultcheck
go build -o "$work/farmcheck" ./bench/farmcheck

fail=0
check() { # check OK|FAIL MESSAGE
  echo "$1: $2"
  [ "$1" = OK ] || fail=1
}

farm_gen -feeds "$FEEDS" -items "$ITEMS" -seed 1
farm_serve -hosts 8 -faults 0.3
# The farm builds its gzip bomb (1 GiB through the compressor) on the first
# request for one, which takes longer than the fetch timeout on this
# machine: the first polls would time out on the farm's start-up, not on the
# bomb. Ask for it once before wirewatch starts.
bomb=$(awk '$2 == "gzip-bomb" { print $3; exit }' "$work/farm/faults.txt")
curl -fsS -o /dev/null --max-time 300 "$bomb"
farm_stats_reset
write_config "$work/wirewatch.yaml" "* * * * *" "  timeout: 10s"
"$work/wirewatch" migrate --config "$work/wirewatch.yaml" >/dev/null
psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE TABLE bench_faults (path text, kind text, url text)" \
  -c "\\copy bench_faults FROM '$work/farm/faults.txt'"
echo "== faults: $(wc -l <"$work/farm/faults.txt") feeds of $FEEDS, $(awk '{ print $2 }' "$work/farm/faults.txt" | sort -u | wc -l) kinds"

cpu0=$(pg_cpu_seconds)
TZ=UTC bench_bg "$work/run.log" "$work/wirewatch" run --config "$work/wirewatch.yaml"
pid=$bg_pid
started=$(date +%s)

# Done when every moved feed has been polled at its new URL (its fourth
# poll), and every faulty feed at least twice (Retry-After and backoff can
# only be seen between two polls).
done_polling() {
  [ "$(sql "SELECT count(*) FROM bench_faults b JOIN feeds f ON f.url = b.url
    WHERE (SELECT count(*) FROM polls p WHERE p.feed_id = f.id) < CASE WHEN b.kind = 'redirect-301' THEN 4 ELSE 2 END")" -eq 0 ]
}
cold_done() { [ "$(sql "SELECT count(DISTINCT feed_id) FROM polls")" -ge "$FEEDS" ]; }
wait_until 480 "the cold round" cold_done
echo "   cold round: $(($(date +%s) - started)) s"
wait_until 480 "four polls of every moved feed" done_polling
elapsed=$(($(date +%s) - started))
echo "   polled for $elapsed s: $(sql "SELECT count(*) FROM polls") polls"

rss=$(peak_rss_mib "$pid")
cpu=$(cpu_seconds "$pid")
stats=$(farm_stats)
kill -TERM "$pid"
wait "$pid" || true
pgcpu=$(awk -v a="$cpu0" -v b="$(pg_cpu_seconds)" 'BEGIN { if (a != "" && b != "") printf "%.1f", b - a; else print "n/a" }')
echo "$stats" >"$work/stats.json"

echo "== outcomes by fault"
if "$work/faultcheck" -truth "$work/farm/truth.jsonl" -faults "$work/farm/faults.txt" -stats "$work/stats.json"; then
  check OK "every fault kind got its outcome"
else
  check FAIL "some fault kinds did not get their outcome (table above)"
fi
echo "== articles of the feeds without faults"
if "$work/farmcheck" -truth "$work/farm/truth.jsonl" -faults "$work/farm/faults.txt" >"$work/farmcheck.out" 2>&1; then
  grep -E '^  (mentions|traps)' "$work/farmcheck.out"
  check OK "every English article with a mention stored, nothing else"
else
  cat "$work/farmcheck.out"
  check FAIL "the articles of the feeds without faults are not all stored"
fi
echo "== the process"
check "$([ "$rss" -lt "$MAX_RSS_MIB" ] && echo OK || echo FAIL)" "peak RSS (VmHWM) $rss MiB (limit $MAX_RSS_MIB MiB); CPU: wirewatch $cpu s, PostgreSQL $pgcpu s"
# Not a check: the farm counts a response in flight until its handler
# returns, and after wirewatch gives up on a trickle (timeout) or a huge
# body (too_large) and closes the connection, the handler goes on until
# its next write fails, while wirewatch's slot for the address is free.
echo "   farm: $(jq .requests <<<"$stats") requests, by status $(jq -c .by_status <<<"$stats"); most in flight per address $(jq -c .max_in_flight <<<"$stats") (fetch.per_host_concurrency 2)"
sql "SELECT format('poll lag after the cold round: p50 %s s, p90 %s s, max %s s over %s polls',
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 1), round(percentile_cont(0.9) WITHIN GROUP (ORDER BY l)::numeric, 1),
       round(max(l)::numeric, 1), count(*))
     FROM (SELECT extract(epoch FROM started_at - due_at) AS l FROM polls WHERE due_at IS NOT NULL) x"
echo "== $(machine)"
if [ "$fail" -ne 0 ]; then
  echo "faults-check: FAIL"
  exit 1
fi
echo "faults-check: OK"
