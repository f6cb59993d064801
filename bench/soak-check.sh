#!/usr/bin/env bash
# Soak check: one `wirewatch run` polls 1,000 rotating feeds (20 items each,
# 2 new per feed every 2 minutes, 20% of the feeds with fixed faults) every
# minute for SOAK_MINUTES (default 30) against its own PostgreSQL cluster,
# which is stopped for 60 seconds halfway. Every minute it samples /metrics
# and /readyz into soak.csv and prints a table. It fails when the daemon
# dies, /readyz does not follow the outage, SIGTERM does not stop it in
# time, memory, goroutines, connections or fds keep growing, or an English
# item that mentions a watch subject (feeds with faults aside) is not stored
# exactly once after a last `wirewatch poll`.
# SOAK_CSV=FILE keeps a copy of the samples.
# Needs the feedfarm tool (FEEDFARM, default ../shared/bench/feedfarm).
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDFARM=${FEEDFARM:-../shared/bench/feedfarm}
SOAK_MINUTES=${SOAK_MINUTES:-30}
FEEDS=${FEEDS:-1000}
ITEMS=${ITEMS:-20}
OUTAGE_SECONDS=${OUTAGE_SECONDS:-60}
SHUTDOWN_TIMEOUT=15
if [ ! -f "$FEEDFARM/go.mod" ]; then
  echo "soak-check: no feedfarm at $FEEDFARM (set FEEDFARM); skipped"
  exit 0
fi
if [ "$SOAK_MINUTES" -lt 16 ]; then
  echo "soak-check: SOAK_MINUTES must be at least 16" >&2
  exit 2
fi

# The PostgreSQL server may run as another user (devdb does so as root), so
# the work directory must be readable by others.
work=$(mktemp -d -t wirewatch-soak.XXXXXX)
chmod 755 "$work"
serve_pid= daemon_pid= db_started= ok=
cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  [ -n "$db_started" ] && "$work/devdb" stop -dir "$work/pg" >/dev/null 2>&1
  if [ -z "$ok" ]; then
    for f in run.log serve.log devdb.log poll.out poll.log; do
      [ -s "$work/$f" ] && { echo "--- last lines of $f"; tail -n 25 "$work/$f"; }
    done
    [ -s "$work/pg/server.log" ] && { echo "--- last lines of the PostgreSQL log"; tail -n 15 "$work/pg/server.log"; }
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }

go build -C "$FEEDFARM" -o "$work/feedfarm" .
go build -o "$work/wirewatch" ./cmd/wirewatch
go build -o "$work/farmcheck" ./bench/farmcheck
go build -o "$work/devdb" ./cmd/devdb

"$work/feedfarm" gen -out "$work/farm" -feeds "$FEEDS" -items "$ITEMS" -seed 1
"$work/feedfarm" serve -dir "$work/farm" -addr 127.0.0.1:0 -hosts 4 -rotate 2m -faults 0.2 \
  > "$work/urls.txt" 2> "$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do
  [ "$(wc -l < "$work/urls.txt")" -ge "$FEEDS" ] && break
  sleep 0.1
done
[ "$(wc -l < "$work/urls.txt")" -ge "$FEEDS" ] || fail "feedfarm serve did not list $FEEDS feeds"

db_started=1
db_url=$("$work/devdb" start -dir "$work/pg" -db soak 2> "$work/devdb.log")
export DATABASE_URL=$db_url

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
{
  echo "schedule: '@every 1m'"
  echo "feeds_file: urls.txt"
  sed -n '/^watchlist:/,/^http:/p' config/wirewatch.yaml | sed '$d'
  # The farm puts 250 feeds on each loopback address, which no publisher
  # does: no gap between requests to a host.
  printf 'http:\n  listen: "127.0.0.1:%s"\n' "$port"
  printf 'fetch:\n  allow_private_networks: true\n  timeout: 10s\n  per_host_concurrency: 4\n  per_host_interval: 0s\n'
  printf 'shutdown_timeout: %ss\n' "$SHUTDOWN_TIMEOUT"
} > "$work/wirewatch.yaml"

"$work/wirewatch" run --migrate --config "$work/wirewatch.yaml" > "$work/run.log" 2>&1 &
daemon_pid=$!
start=$(date +%s)
for _ in $(seq 100); do
  curl -fs -o /dev/null "$base/healthz" && break
  sleep 0.2
done
alive() { kill -0 "$daemon_pid" 2>/dev/null; }
alive || fail "wirewatch run did not start"

readyz() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$base/readyz" || true; }

csv=$work/soak.csv
echo "minute,elapsed_s,readyz,rss_mib,heap_inuse_mib,goroutines,db_conns,open_fds,polls_ok,polls_not_modified,polls_failed,matches_stored" > "$csv"
sample() { # minute
  local m r
  m=$(curl -s -m 10 "$base/metrics") || m=
  r=$(readyz)
  echo "$m" | awk -v min="$1" -v el=$(( $(date +%s) - start )) -v rz="$r" '
    /^process_resident_memory_bytes / { rss = $2 }
    /^go_memstats_heap_inuse_bytes / { heap = $2 }
    /^go_goroutines / { gr = $2 }
    /^wirewatch_db_pool_connections / { conns = $2 }
    /^process_open_fds / { fds = $2 }
    /^wirewatch_polls_total\{.*outcome="ok"/ { ok += $2 }
    /^wirewatch_polls_total\{.*outcome="not_modified"/ { nm += $2 }
    /^wirewatch_polls_total\{.*outcome="failed"/ { failed += $2 }
    /^wirewatch_matches_stored_total / { stored = $2 }
    END { printf "%d,%d,%s,%.1f,%.1f,%d,%d,%d,%d,%d,%d,%d\n", min, el, rz, rss/1048576, heap/1048576, gr, conns, fds, ok, nm, failed, stored }' >> "$csv"
}
at() { # sleep until SECONDS after start
  local left=$(( start + $1 - $(date +%s) ))
  [ "$left" -gt 0 ] && sleep "$left"
  return 0
}

outage_min=$(( SOAK_MINUTES / 2 ))
echo "== soak: $FEEDS feeds x $ITEMS items, rotating every 2m, 20% faulty; wirewatch run for $SOAK_MINUTES min" \
  "(database stopped for ${OUTAGE_SECONDS}s at minute $outage_min); work dir $work"
for min in $(seq 1 "$SOAK_MINUTES"); do
  at $(( min * 60 ))
  alive || fail "wirewatch run exited during minute $min"
  sample "$min"
  tail -n 1 "$csv"
  if [ "$min" -eq "$outage_min" ]; then
    echo "== stopping PostgreSQL for ${OUTAGE_SECONDS}s"
    "$work/devdb" stop -dir "$work/pg" >> "$work/devdb.log" 2>&1
    t0=$(date +%s) codes=
    while [ $(( $(date +%s) - t0 )) -lt "$OUTAGE_SECONDS" ]; do
      sleep 5
      codes="$codes $(readyz)"
      alive || fail "wirewatch run exited while the database was down"
    done
    echo "/readyz while the database was down (every 5s):$codes"
    "$work/devdb" start -dir "$work/pg" -db soak >> "$work/devdb.log" 2>&1
    t1=$(date +%s) code=
    while [ $(( $(date +%s) - t1 )) -lt 60 ]; do
      code=$(readyz)
      [ "$code" = 200 ] && break
      sleep 1
    done
    echo "/readyz after the restart: $code, $(( $(date +%s) - t1 ))s after devdb start returned"
    # The first answer may come before the pool noticed the server went.
    case "${codes# }" in
      *200*200*) fail "/readyz kept answering 200 while the database was down:$codes";;
    esac
    for c in $codes; do :; done
    [ "$c" = 503 ] || fail "/readyz answered $c at the end of the outage, not 503"
    [ "$code" = 200 ] || fail "/readyz is not 200 a minute after the database came back"
  fi
done

echo "== SIGTERM"
t0=$(date +%s.%N)
kill -TERM "$daemon_pid"
deadline=$(( $(date +%s) + SHUTDOWN_TIMEOUT + 5 ))
while alive && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
alive && fail "wirewatch run still running $(( SHUTDOWN_TIMEOUT + 5 ))s after SIGTERM"
rc=0; wait "$daemon_pid" || rc=$?
daemon_pid=
stop_s=$(echo "$(date +%s.%N) - $t0" | bc)
echo "wirewatch run exited with status $rc after ${stop_s}s (shutdown_timeout ${SHUTDOWN_TIMEOUT}s)"
[ "$rc" = 0 ] || fail "wirewatch run exited with status $rc"

# The items of the epochs served so far; an epoch that starts during the last
# poll is not required (only whole lines: one may be being written).
touch "$work/farm/truth-rotated.jsonl"
n=$(wc -l < "$work/farm/truth-rotated.jsonl")
head -n "$n" "$work/farm/truth-rotated.jsonl" > "$work/rotated.jsonl"
echo "== last poll"
"$work/wirewatch" poll --config "$work/wirewatch.yaml" > "$work/poll.out" 2> "$work/poll.log" ||
  fail "wirewatch poll failed"
head -n 1 "$work/poll.out"

echo "== table (also in $csv)"
column -s, -t < "$csv"
if [ -n "${SOAK_CSV:-}" ]; then cp "$csv" "$SOAK_CSV"; fi

# Every check below runs even when one before it failed.
failures=0
check() { echo "FAIL: $*"; failures=$(( failures + 1 )); }

# Flat: the median of the last five samples against that of minutes 3 to 7,
# after the first rounds. One sample swings with what is in flight at that
# moment (a faulty feed's 16 MiB body, a trickle's goroutines); a leak moves
# the median.
echo "== flat? median of minutes 3-7 against median of minutes $(( SOAK_MINUTES - 4 ))-$SOAK_MINUTES"
awk -F, -v last="$SOAK_MINUTES" '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
  }
  NR == 1 { next }
  $1 >= 3 && $1 <= 7 { nb++; b_rss[nb] = $4; b_heap[nb] = $5; b_gr[nb] = $6; b_conns[nb] = $7; b_fds[nb] = $8 }
  $1 > last - 5 { ne++; e_rss[ne] = $4; e_heap[ne] = $5; e_gr[ne] = $6; e_conns[ne] = $7; e_fds[ne] = $8 }
  END {
    bad = 0
    br = median(b_rss, nb); er = median(e_rss, ne); bh = median(b_heap, nb); eh = median(e_heap, ne)
    bg = median(b_gr, nb); eg = median(e_gr, ne); bc = median(b_conns, nb); ec = median(e_conns, ne)
    bf = median(b_fds, nb); ef = median(e_fds, ne)
    printf "  RSS %.1f -> %.1f MiB, heap in use %.1f -> %.1f MiB, goroutines %g -> %g, db connections %g -> %g, open fds %g -> %g\n", br, er, bh, eh, bg, eg, bc, ec, bf, ef
    if (er > br * 1.25 + 8) { print "  RSS grew by more than 25% + 8 MiB"; bad = 1 }
    if (eg > bg + 10) { print "  goroutines grew by more than 10"; bad = 1 }
    if (ec > bc + 2) { print "  db connections grew by more than 2"; bad = 1 }
    if (ef > bf + 10) { print "  open fds grew by more than 10"; bad = 1 }
    exit bad
  }' "$csv" || check "the daemon's resources grew"

echo "== score: the farm's items"
"$work/farmcheck" -truth "$work/farm/truth.jsonl" -faults "$work/farm/faults.txt" || check "items of the farm missing"
echo "== score: rotated items ($(wc -l < "$work/rotated.jsonl") served before the last poll)"
"$work/farmcheck" -truth "$work/rotated.jsonl" -faults "$work/farm/faults.txt" || check "rotated items missing"

echo "== stored once?"
q() { psql "$DATABASE_URL" -XAtq -c "$1"; }
dups=$(q "SELECT count(*) FROM (SELECT link FROM item_sightings WHERE link <> '' GROUP BY link HAVING count(DISTINCT item_id) > 1) d")
keys=$(q "SELECT count(*) - count(DISTINCT key) FROM items")
leases=$(q "SELECT count(*) FROM feeds WHERE lease_owner <> ''")
echo "links (not empty) seen under more than one item: $dups; duplicate item keys: $keys; feeds still claimed: $leases"
[ "$dups" = 0 ] && [ "$keys" = 0 ] || check "an item was stored more than once"
[ "$leases" = 0 ] || check "feeds are still claimed after the daemon stopped"
q "SELECT outcome, coalesce(error_kind, ''), count(*) FROM polls GROUP BY 1, 2 ORDER BY 3 DESC" | sed 's/^/  polls: /'

[ "$failures" = 0 ] || exit 1
ok=1
echo "OK: the daemon stayed up and flat for $SOAK_MINUTES minutes and an outage; every English mention stored once"
