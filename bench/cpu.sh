# shellcheck shell=sh
# bench/cpu.sh, sourced by the make bench scripts: the CPU time a server
# uses, for their "CPU per message" column -- a figure a busy, shared
# machine disturbs far less than a rate.
#
#   cpu_ticks PID    user + system clock ticks used so far by PID (all its
#                    threads) and by its live child processes (rspamd's
#                    workers); getconf CLK_TCK ticks make a second
#   cpu_ticks_file FILE   the same, summed over the PIDs listed in FILE
#   cpu_us TICKS N   microseconds per unit: TICKS spread over N units

# (cat, not awk, opens the files: a process may end in between)
cpu_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$1" '{
		pid = $1
		sub(/^[^(]*\(.*\) /, "")	# the name may hold spaces
		if (pid == p || $2 == p) t += $12 + $13
	} END { print t + 0 }'
}

cpu_us() {
	awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.0f\n", (n > 0 ? t * 1e6 / hz / n : 0) }'
}

# cpu_ticks_file FILE: cpu_ticks summed over the PIDs in FILE, one a line
# (0 when there is no FILE: no server).
cpu_ticks_file() {
	ct_t=0
	if [ -e "$1" ]; then
		while read -r ct_p; do
			ct_t=$((ct_t + $(cpu_ticks "$ct_p")))
		done <"$1"
	fi
	echo "$ct_t"
}
