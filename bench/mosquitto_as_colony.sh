#!/bin/sh
# Stand-in for the Colony binary, for exercising compare.py before Colony
# exists: accepts Colony's command line and execs Mosquitto with an equivalent
# config (exec, so the PID compare.py started is Mosquitto's own).
#   bench/compare.py --colony bench/mosquitto_as_colony.sh ...
# Environment: MOSQUITTO (default /usr/sbin/mosquitto).
set -eu
host=127.0.0.1 port=1883 queued=100000 inflight=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --host) host=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --max-queued-messages) queued=$2; shift 2 ;;
    --max-inflight) inflight=$2; shift 2 ;;
    --ws-port|--http-port|--log-level) shift 2 ;;
    *) echo "mosquitto_as_colony.sh: ignoring $1" >&2; shift ;;
  esac
done
# One config file per port, overwritten on reuse (exec leaves no chance to delete it).
conf="${TMPDIR:-/tmp}/mosquitto-as-colony-$port.conf"
cat > "$conf" <<CONF
listener $port $host
allow_anonymous true
persistence false
max_queued_messages $queued
max_queued_bytes 0
max_inflight_messages $inflight
max_connections -1
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
connection_messages false
CONF
exec "${MOSQUITTO:-/usr/sbin/mosquitto}" -c "$conf"
