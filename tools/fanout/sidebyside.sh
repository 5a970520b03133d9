#!/usr/bin/env bash
# Side-by-side fan-out: blastlog's streaming container and Centrifugo (Redis
# engine) on one redis-server, the same load tool (ssebench) and scenarios, one run.
# Not part of the product and never run in CI: go tool task bench:sidebyside.
#   sidebyside.sh BIN CENTRIFUGO [scenario...]   scenarios: s1 s2 s3 s4 (default all)
# BIN holds blastlog-stream and blastlog-publish. S4_CLIENTS (10000) sizes s4. Each
# scenario gets a fresh server process of each kind, so that one scenario's memory is
# not another's baseline. CENTRIFUGO "-": blastlog alone (A/B runs of two builds).
# PROFILE=DIR: blastlog only, with GODEBUG=gctrace=1, and CPU, allocation, mutex and
# block profiles of 7 s of each scenario's publishing into DIR. TIMELINE=DIR: each
# delivery's publish time and latency per scenario and server (DIR/s3.blastlog, ...),
# to see where in a run the slow deliveries fall.
set -u
BIN=$1; CF=$2; shift 2
SC=${*:-s1 s2 s3 s4}
S4=${S4_CLIENTS:-10000}
[ -n "${TIMELINE:-}" ] && mkdir -p "$TIMELINE"
here="$(cd "$(dirname "$0")" && pwd)"
W=$(mktemp -d); PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; sleep 0.3; rm -rf $W' EXIT
fp() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# blastlog-stream runs with its image's GODEBUG and GOGC (infra/images/Containerfile.stream).
IMAGE_GODEBUG=$(sed -n 's/^ENV GODEBUG=//p' "$here/../../infra/images/Containerfile.stream")
IMAGE_GOGC=$(sed -n 's/^ENV GOGC=//p' "$here/../../infra/images/Containerfile.stream")
SB=$W/ssebench
(cd "$here" && go build -o "$SB" ./ssebench) || exit 1
ulimit -n "$(ulimit -Hn)"
RP=$(fp); redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no >$W/redis.log 2>&1 & PIDS+=($!)
sleep 0.5
OWNER=00000000-0000-0000-0000-000000000000
export BLASTLOG_REDIS_URL=redis://127.0.0.1:$RP/0
# one fresh channel (run) per scenario: a blastlog viewer without a resume point replays the run
for c in s1 s2 s4 $(seq -f 's3-%g' 0 199); do $BIN/blastlog-publish job register --job $c --owner $OWNER >/dev/null; $BIN/blastlog-publish job status --job $c --status running >/dev/null; done
start() { # start KIND: a fresh server; sets BPID/BP or CPID/CP
  case $1 in
    bl) BP=$(fp); PP=$(fp)
        BLASTLOG_PPROF_ADDR=${PROFILE:+127.0.0.1:$PP} GODEBUG=$IMAGE_GODEBUG${PROFILE:+,gctrace=1} GOGC=$IMAGE_GOGC BLASTLOG_ADDR=127.0.0.1:$BP BLASTLOG_AUTH_MODE=dev-bypass BLASTLOG_STREAM_TICKETS=on BLASTLOG_TICKETS_PER_MINUTE=10000 BLASTLOG_OWNER_MAX_STREAMS=100000 \
          BLASTLOG_STREAM_MAXLEN=1000000 $BIN/blastlog-stream >>$W/bl.log 2>&1 & BPID=$!; PIDS+=($BPID);;
    cf) CP=$(fp)
        cat > $W/cf.json <<JSON
{"client":{"allowed_origins":["*"],"insecure":true},"uni_sse":{"enabled":true},"http_api":{"key":"k"},
 "http_server":{"port":"$CP","address":"127.0.0.1"},"engine":{"type":"redis","redis":{"address":"redis://127.0.0.1:$RP/1"}},"log":{"level":"error"}}
JSON
        $CF -c $W/cf.json >>$W/cf.log 2>&1 & CPID=$!; PIDS+=($CPID);;
  esac
  sleep 2
}
profile() { # profile SCENARIO: 7 s from 4 s after the clients start connecting
  sleep 4
  curl -s -o "$PROFILE/$1.cpu.pprof" "http://127.0.0.1:$PP/debug/pprof/profile?seconds=7" &
  curl -s -o "$PROFILE/$1.allocs.pprof" "http://127.0.0.1:$PP/debug/pprof/allocs?seconds=7" &
  curl -s -o "$PROFILE/$1.mutex0.pprof" "http://127.0.0.1:$PP/debug/pprof/mutex"
  curl -s -o "$PROFILE/$1.block0.pprof" "http://127.0.0.1:$PP/debug/pprof/block"
  wait
  curl -s -o "$PROFILE/$1.mutex.pprof" "http://127.0.0.1:$PP/debug/pprof/mutex"
  curl -s -o "$PROFILE/$1.block.pprof" "http://127.0.0.1:$PP/debug/pprof/block"
}
# Tickets are limited per owner per minute in Redis: each scenario starts with none used.
fresh_tickets() { redis-cli -p $RP --scan --pattern '*rate:tickets:*' | xargs -r redis-cli -p $RP del >/dev/null; }
bl() { fresh_tickets; start bl; [ -n "${PROFILE:-}" ] && { mkdir -p "$PROFILE"; profile $s & PROFPID=$!; }; $SB -mode blastlog -pid $BPID -sse "http://127.0.0.1:$BP/api/blast/logs/{ch}/events?ticket={ticket}" \
        -ticket "http://127.0.0.1:$BP/api/blast/logs/{ch}/ticket" -redis 127.0.0.1:$RP ${TIMELINE:+-timeline $TIMELINE/$s.blastlog} "$@" 2>&1 | sed 's/^/  blastlog   | /'; kill $BPID; wait $BPID 2>/dev/null; }
cf() { start cf; $SB -mode centrifugo -pid $CPID -pub "http://127.0.0.1:$CP/api/publish" -apikey k ${TIMELINE:+-timeline $TIMELINE/$s.centrifugo} \
        -sse 'http://127.0.0.1:'$CP'/connection/uni_sse?cf_connect=%7B%22subs%22%3A%7B%22{ch}%22%3A%7B%7D%7D%7D' "$@" 2>&1 | sed 's/^/  centrifugo | /'; kill $CPID; wait $CPID 2>/dev/null; }
for s in $SC; do
  case $s in
    s1) echo "s1: 1 channel, 100 clients, 1000 msg/s x 10 s"; a=(-clients 100 -rate 1000 -msgs 10000 -pubconc 4);;
    s2) echo "s2: 1 channel, 2000 clients, 20 msg/s x 20 s"; a=(-clients 2000 -rate 20 -msgs 400 -pubconc 2);;
    s3) echo "s3: 200 channels x 10 clients, 1000 msg/s x 10 s"; a=(-clients 2000 -channels 200 -rate 1000 -msgs 10000 -pubconc 4);;
    s4) echo "s4: $S4 idle clients (memory per connection)"; a=(-clients $S4 -rate 10 -msgs 10 -pubconc 1);;
    *) echo "unknown scenario $s" >&2; exit 2;;
  esac
  bl "${a[@]}" -channel $s; sleep 1
  if [ -n "${PROFILE:-}" ]; then wait $PROFPID; grep '^gc ' $W/bl.log >"$PROFILE/$s.gctrace.log"; : >$W/bl.log; continue; fi
  [ "$CF" = - ] || { cf "${a[@]}" -channel $s; sleep 1; }
done
