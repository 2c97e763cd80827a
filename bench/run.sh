#!/bin/sh
# make bench: the engine alone, the milter alone, then Postfix end to end;
# the tables go to the terminal and to bench/results.txt.  Not part of
# make check.
set -e
cd "$(dirname "$0")/.."

# A private redis-server on a free loopback port, for the Redis latency.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
	--loglevel warning >/dev/null 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null' EXIT INT TERM
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1 || [ "$i" -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
export BENCH_REDIS_PORT=$port
{
	echo "milter-policy bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -sr)"
	echo
	echo "$ bench/bench_engine"
	bench/bench_engine
	echo
	echo "$ sh bench/milter-load.sh"
	sh bench/milter-load.sh
	echo
	echo "$ sh tests/e2e/bench-mta.sh"
	E2E_WORKROOT=/dev/shm sh tests/e2e/bench-mta.sh
} | tee bench/results.txt
