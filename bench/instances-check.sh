#!/usr/bin/env bash
# Several `wirewatch run` processes on one database share the feeds without
# polling any twice. A farm of 1,000 feeds x 20 items is served from 4
# loopback addresses with 500 ms of latency per response (so polls are in
# flight long enough to be caught by a kill); 3 instances poll it every
# minute. After the first (cold) round the script checks, over two whole
# minutes of the wall clock:
#   - the farm saw 1,000 requests per minute (/_stats, within 2%), and the
#     polls table agrees: every feed polled once per minute, none twice;
#   - every instance did a fair part of the polls (from the instances' logs:
#     polls do not record which instance made them);
# then kills one instance with SIGKILL mid-round and checks that the feeds it
# held are polled by the others once their leases (2 minutes) run out, that
# no feed is left unpolled a round later, and that every article is stored
# exactly once (the farm's ground truth). About 8 minutes.
# Needs the feedfarm tool (FEEDFARM, default ../shared/bench/feedfarm).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
FEEDS=${FEEDS:-1000}
ITEMS=${ITEMS:-20}
INSTANCES=${INSTANCES:-3}
WINDOWS=${WINDOWS:-2} # minutes measured after the cold round
INTERVAL=60           # the schedule below: every minute
LEASE=120             # ingest's lease on a claimed feed
bench_init instances-check "$@"

fail=0
check() { # check OK|FAIL MESSAGE
  echo "$1: $2"
  [ "$1" = OK ] || fail=1
}

farm_gen -feeds "$FEEDS" -items "$ITEMS" -seed 1
farm_serve -hosts 4 -latency 500ms
# A cron schedule, not "@every 1m": each feed gets its own fixed second in
# the minute (ingest/plan.go, spreadNext), so every feed has exactly one
# turn in each minute of the clock and the rounds can be counted. With
# @every the per-feed shift cancels out and the feeds keep the phases of
# the first round. Politeness stays at its defaults (2 requests in flight
# per host, 250 ms apart, kept by each instance on its own): 250 feeds per
# host take one instance 63 s, three about 21 s, in the cold round; after
# it the farm gets 17 requests a second.
write_config "$work/wirewatch.yaml" "* * * * *" "" debug
"$work/wirewatch" migrate --config "$work/wirewatch.yaml" >/dev/null

declare -a pids owners
for i in $(seq "$INSTANCES"); do
  TZ=UTC bench_bg "$work/run$i.log" "$work/wirewatch" run --config "$work/wirewatch.yaml"
  pids[i]=$bg_pid
done
for i in $(seq "$INSTANCES"); do
  wait_until 30 "instance $i starting" grep -q 'msg="scheduler started"' "$work/run$i.log"
  owners[i]=$(sed -n 's/.*msg="scheduler started".* instance=\([^ ]*\).*/\1/p' "$work/run$i.log" | head -1)
done
echo "== $INSTANCES instances: ${owners[*]}"

# polls_by LOG FROM TO: the polls an instance logged between two times
# (seconds since the epoch); every poll logs a line at debug level.
polls_by() {
  local from to
  from=$(date -u -d "@$2" +%Y-%m-%dT%H:%M:%S)
  to=$(date -u -d "@$3" +%Y-%m-%dT%H:%M:%S)
  awk -v from="time=$from" -v to="time=$to" \
    '($3 == "msg=polled" || $3 == "msg=\"poll") && $1 >= from && $1 < to { n++ } END { print n + 0 }' "$1"
}
# shares LABEL FROM TO: print each running instance's polls in a time
# span, and keep the smallest share in $share_min.
shares() {
  local i total=0 out=()
  local -A count
  for i in "${!pids[@]}"; do count[$i]=$(polls_by "$work/run$i.log" "$2" "$3"); total=$((total + count[$i])); done
  share_min=1
  for i in "${!pids[@]}"; do
    out+=("instance $i ${count[$i]} ($(awk -v n="${count[$i]}" -v t="$total" 'BEGIN { printf "%.0f%%", t ? 100 * n / t : 0 }'))")
    share_min=$(awk -v n="${count[$i]}" -v t="$total" -v m="$share_min" 'BEGIN { s = t ? n / t : 0; print (s < m ? s : m) }')
  done
  echo "   $1: ${out[*]}"
}

echo "== cold round"
cold_round_done() { [ "$(sql "SELECT count(DISTINCT feed_id) FROM polls")" -ge "$FEEDS" ]; }
wait_until 600 "the cold round" cold_round_done
sql "SELECT format('cold round: %s feeds in %s s, %s items stored', count(DISTINCT feed_id),
       round(extract(epoch FROM max(started_at + duration_ms * interval '1 ms') - min(started_at))::numeric, 1),
       (SELECT count(*) FROM items)) FROM polls"

# Measure whole minutes of the clock, from the first minute boundary at
# least 2 s away.
t0=$(( ($(date +%s) + 2 + INTERVAL - 1) / INTERVAL * INTERVAL ))
t1=$((t0 + WINDOWS * INTERVAL))
echo "== steady state: $WINDOWS minutes from $(date -u -d "@$t0" +%H:%M:%S) UTC"
sleep_until "$t0"
farm_stats_reset
sleep_until "$t1"
stats=$(farm_stats)
requests=$(jq .requests <<<"$stats")
in_flight=$(jq -c .max_in_flight <<<"$stats")
# A poll is recorded when it ends: give the polls started before the end of
# the window time to be written.
sleep 10
want=$((WINDOWS * FEEDS))
tol=$((want / 50))
# A feed's turn is its fixed second plus up to 1.2 s of jitter and the
# claim delay, so the turns of feeds near a minute boundary fall on either
# side of it: the request count is exact only within 2%.
if [ "$requests" -ge $((want - tol)) ] && [ "$requests" -le $((want + tol)) ]; then
  check OK "farm: $requests requests in $WINDOWS minutes (want $want +- $tol); max in flight per host $in_flight"
else
  check FAIL "farm: $requests requests in $WINDOWS minutes (want $want +- $tol)"
fi
from="to_timestamp($t0)" to="to_timestamp($t1)"
# Per feed, from the polls table: a feed is due once a minute, at its own
# second plus up to 1.2 s of jitter, and a late poll plans the next turn
# on the same second. So each feed has exactly one poll due in each minute
# of the window, unless its second is within the jitter of the window's
# edge (then one more or one less: the turn just before or after the window
# may fall in it).
per="
  SELECT f.id, count(p.id) AS n,
         EXISTS (SELECT 1 FROM polls e WHERE e.feed_id = f.id
                 AND (e.due_at BETWEEN $from - interval '2 s' AND $from + interval '2 s'
                      OR e.due_at BETWEEN $to - interval '2 s' AND $to + interval '2 s')) AS edge
  FROM feeds f LEFT JOIN polls p ON p.feed_id = f.id AND p.due_at >= $from AND p.due_at < $to
  GROUP BY f.id"
read -r polls_in off unexplained < <(sql "
  WITH per AS ($per)
  SELECT (SELECT count(*) FROM polls WHERE started_at >= $from AND started_at < $to),
         count(*) FILTER (WHERE n <> $WINDOWS), count(*) FILTER (WHERE n <> $WINDOWS AND NOT edge) FROM per" | tr '|' ' ')
if [ "$unexplained" -eq 0 ]; then
  check OK "polls table: $polls_in polls started in the window; every feed due and polled once a minute ($off near the window's edges once more or less)"
else
  check FAIL "polls table: $unexplained feeds not due and polled once a minute; their polls:"
  sql_table "
    WITH per AS ($per)
    SELECT p.feed_id, to_char(p.due_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS') AS due,
           to_char(p.started_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS') AS started, p.duration_ms, p.outcome
    FROM per JOIN polls p ON p.feed_id = per.id
    WHERE per.n <> $WINDOWS AND NOT per.edge
      AND p.started_at BETWEEN $from - interval '90 s' AND $to + interval '90 s'
    ORDER BY p.feed_id, p.started_at LIMIT 60"
fi
sql "SELECT format('   poll lag in the window (started_at - due_at): p50 %s s, p99 %s s, max %s s',
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 2), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 2),
       round(max(l)::numeric, 2))
     FROM (SELECT extract(epoch FROM started_at - due_at) AS l FROM polls WHERE due_at >= $from AND due_at < $to) x"
# Claims go to whichever instance asks first, and an instance asks again
# after each poll it finishes (and every second), so a busy instance takes
# more than its share: the check asks only that each does a quarter of an
# even share, and the shares are printed.
shares "polls per instance (from their logs)" "$t0" "$t1"
if awk -v m="$share_min" -v k="$INSTANCES" 'BEGIN { exit !(m >= 1 / (4 * k)) }'; then
  check OK "the polls are shared: each instance made at least $(awk -v k="$INSTANCES" 'BEGIN { printf "%.0f", 100 / (4 * k) }')% of them"
else
  check FAIL "an instance made less than a quarter of an even share of the polls"
fi

echo "== SIGKILL of instance 2 mid-round"
victim=2
# Wait for a moment when it holds at least two claims: polls in flight.
for _ in $(seq 300); do
  [ "$(sql "SELECT count(*) FROM feeds WHERE lease_owner = '${owners[victim]}' AND lease_until > now()")" -ge 2 ] && break
  sleep 0.2
done
kill -KILL "${pids[victim]}"
killed=$(date +%s.%N)
wait "${pids[victim]}" 2>/dev/null || true
unset 'pids[victim]'
# Its claims as it left them; polls that take a feed over clear lease_owner.
sql "CREATE TABLE bench_held AS SELECT id, url, lease_until FROM feeds WHERE lease_owner = '${owners[victim]}'"
held=$(sql "SELECT count(*) FROM bench_held")
echo "   it held $held claims at the kill, leases until $(sql "SELECT string_agg(DISTINCT to_char(lease_until AT TIME ZONE 'UTC', 'HH24:MI:SS'), ', ') FROM bench_held") UTC"
end=$(awk -v k="$killed" -v l="$LEASE" -v i="$INTERVAL" 'BEGIN { printf "%d", k + l + i + 15 }')
echo "   waiting until $(date -u -d "@$end" +%H:%M:%S) UTC: a lease, a round and 15 s"
sleep_until "$end"

kill_ts="to_timestamp($killed)"
# Each feed it held is polled again no earlier than the end of its lease
# (1 s of slack for the two clocks) and within 5 s of it, by an instance
# still running.
read -r taken early late wait_max < <(sql "
  SELECT count(t.at), count(*) FILTER (WHERE t.at < h.lease_until - interval '1 s'),
         count(*) FILTER (WHERE t.at > h.lease_until + interval '5 s'),
         coalesce(round(max(extract(epoch FROM t.at - h.lease_until))::numeric, 1), 0)
  FROM bench_held h
  LEFT JOIN LATERAL (SELECT min(started_at) AS at FROM polls p WHERE p.feed_id = h.id AND p.started_at > $kill_ts) t ON true" | tr '|' ' ')
by_survivor=0
while read -r url; do
  for i in "${!pids[@]}"; do
    if grep -F "url=$url " "$work/run$i.log" | awk -v from="time=$(date -u -d "@${killed%.*}" +%Y-%m-%dT%H:%M:%S)" '$1 >= from { f = 1 } END { exit !f }'; then
      by_survivor=$((by_survivor + 1))
      break
    fi
  done
done < <(sql "SELECT url FROM bench_held")
if [ "$held" -eq 0 ]; then
  check FAIL "the killed instance held no claim at the kill, so the takeover was not tested; run again"
elif [ "$taken" -eq "$held" ] && [ "$early" -eq 0 ] && [ "$late" -eq 0 ] && [ "$by_survivor" -eq "$held" ]; then
  check OK "its $held feeds were taken over by the others when their leases ran out (at most $wait_max s after)"
else
  check FAIL "of its $held feeds, $taken were polled again ($early before the lease ran out, $late more than 5 s after; $by_survivor by a survivor)"
fi
unpolled=$(sql "SELECT count(*) FROM feeds f WHERE NOT EXISTS (SELECT 1 FROM polls p WHERE p.feed_id = f.id
  AND p.started_at > to_timestamp($end) - interval '$((INTERVAL + 5)) s')")
check "$([ "$unpolled" -eq 0 ] && echo OK || echo FAIL)" "feeds not polled in the last minute and 5 s: $unpolled"
leftover=$(sql "SELECT count(*) FROM feeds WHERE lease_owner = '${owners[victim]}'")
check "$([ "$leftover" -eq 0 ] && echo OK || echo FAIL)" "claims of the killed instance left: $leftover"
shares "polls per instance after the kill" "${killed%.*}" "$end"

echo "== the whole run"
read -r min_gap twice < <(sql "
  WITH g AS (SELECT started_at - lag(started_at) OVER w AS gap, due_at, lag(due_at) OVER w AS prev_due
             FROM polls WINDOW w AS (PARTITION BY feed_id ORDER BY started_at))
  SELECT round(extract(epoch FROM min(gap))::numeric, 1), count(*) FILTER (WHERE gap < interval '$((INTERVAL / 2)) s')
  FROM g WHERE due_at IS NOT NULL AND prev_due IS NOT NULL" | tr '|' ' ')
# The first turn after the cold round may come seconds after it (the feed's
# second in the minute), so pairs with a cold-round poll are left out.
check "$([ "$twice" -eq 0 ] && echo OK || echo FAIL)" "polls of one feed less than $((INTERVAL / 2)) s apart after the cold round: $twice (shortest gap $min_gap s)"
sql "SELECT format('poll lag (started_at - due_at) after the cold round: p50 %s s, p99 %s s, max %s s over %s polls',
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 2), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 2),
       round(max(l)::numeric, 2), count(*))
     FROM (SELECT extract(epoch FROM started_at - due_at) AS l FROM polls WHERE due_at IS NOT NULL) x"
newer=$(sql "SELECT coalesce(sum(new_matches), 0) FROM polls WHERE due_at IS NOT NULL")
check "$([ "$newer" -eq 0 ] && echo OK || echo FAIL)" "new items stored after the cold round (the farm does not change): $newer"
go build -o "$work/farmcheck" ./bench/farmcheck
if "$work/farmcheck" -exact -truth "$work/farm/truth.jsonl" >"$work/farmcheck.out" 2>&1; then
  check OK "$(grep -o 'distinct articles.*' "$work/farmcheck.out"): one item per article"
else
  cat "$work/farmcheck.out"
  check FAIL "items stored do not match the farm's truth"
fi
for i in "${!pids[@]}"; do
  echo "   instance $i: peak RSS $(peak_rss_mib "${pids[i]}") MiB, CPU $(cpu_seconds "${pids[i]}") s"
done
echo "== $(machine)"
if [ "$fail" -ne 0 ]; then
  echo "instances-check: FAIL"
  exit 1
fi
echo "instances-check: OK"
