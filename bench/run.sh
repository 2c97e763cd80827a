#!/bin/sh
# make bench: the engine alone, then Postfix end to end; the table goes to
# the terminal and to bench/results.txt.  Not part of make check.
set -e
cd "$(dirname "$0")/.."
{
	echo "milter-policy bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -sr)"
	echo
	echo "$ bench/bench_engine"
	bench/bench_engine
	echo
	echo "$ sh tests/e2e/bench-mta.sh"
	E2E_WORKROOT=/dev/shm sh tests/e2e/bench-mta.sh
} | tee bench/results.txt
