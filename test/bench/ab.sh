#!/bin/bash
# test/bench/ab.sh: A/B of builds and definition mixes with engine.sh, runs
# interleaved (round 1: A, B, C; round 2: A, B, C; ...) so that a machine
# shared with other work loads every variant alike.  Results go in
# doc/benchmark.md.
#
# Usage: test/bench/ab.sh [--rounds N] [--out DIR] VARIANT... [-- ENGINE_OPTIONS]
#   VARIANT is LABEL=PGBIN:MIX, PGBIN the bin directory of a PostgreSQL copy
#   with that build of automation installed (see the "Building" section of
#   the preamble / README: make install DESTDIR=...), MIX basic or full.
#   ENGINE_OPTIONS go to every engine.sh run (default: --runs 5 --duration 3
#   --counts "100 1000" --clients 1 --workloads "nomatch match bulk"
#   --no-fsync-run).
#
# Prints, for each cell, each variant's median ratio (watched / twin) over
# all its runs in all rounds, then each round's median; the engine.sh output
# of every run is kept in DIR (default a new /tmp/automation-ab.XXXXXX).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=3
OUT=
VARIANTS=()
ENGINE_OPTS=(--runs 5 --duration 3 --counts "100 1000" --clients 1
	--workloads "nomatch match bulk" --no-fsync-run)
while [ $# -gt 0 ]; do
	case "$1" in
		--rounds) ROUNDS=$2; shift ;;
		--out) OUT=$2; shift ;;
		--) shift; ENGINE_OPTS=("$@"); break ;;
		-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
		*=*:*) VARIANTS+=("$1") ;;
		*) echo "unknown argument: $1" >&2; exit 2 ;;
	esac
	shift
done
[ ${#VARIANTS[@]} -gt 0 ] || { echo "no variant (LABEL=PGBIN:MIX)" >&2; exit 2; }
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/automation-ab.XXXXXX)
mkdir -p "$OUT"

for round in $(seq 1 "$ROUNDS"); do
	for v in "${VARIANTS[@]}"; do
		label=${v%%=*}
		rest=${v#*=}
		bin=${rest%:*}
		mix=${rest##*:}
		echo "# round $round: $label ($bin, mix $mix), $(date -u '+%H:%M:%S UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
		PGBIN=$bin bash test/bench/engine.sh --mix "$mix" "${ENGINE_OPTS[@]}" \
			>"$OUT/$label.$round.txt"
	done
done

# cell lines: | workload | clients | definitions | watched | twin | **median** | target | r1 r2 ... |
header="| workload | clients | definitions |"
rule="|---|---|---|"
for v in "${VARIANTS[@]}"; do
	header="$header ${v%%=*}: median (each round's) |"
	rule="$rule---|"
done
echo "$header"
echo "$rule"
for v in "${VARIANTS[@]}"; do
	label=${v%%=*}
	for round in $(seq 1 "$ROUNDS"); do
		awk -F'|' -v l="$label" -v r="$round" '$2 ~ /^ (nomatch|match|bulk)/ {
			gsub(/ /, "", $2); gsub(/ /, "", $3); gsub(/ /, "", $4); gsub(/[ *]/, "", $7)
			printf "%s %s %s %s %s %s %s\n", $2, $3, $4, l, r, $7, $9 }' "$OUT/$label.$round.txt"
	done
done >"$OUT/cells.txt"
awk '{ cell = $1 " " $2 " " $3; if (!(cell in seen)) { seen[cell] = 1; order[++n] = cell }
	   key = cell SUBSEP $4; rounds[key] = rounds[key] (rounds[key] == "" ? "" : " ") $6
	   for (i = 7; i <= NF; i++) runs[key] = runs[key] " " $i
	   if (!($4 in vseen)) { vseen[$4] = 1; vorder[++nv] = $4 } }
	 function median(s,   a, m, i, j, t) {
		m = split(s, a, " ")
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
	 END { for (c = 1; c <= n; c++) {
			split(order[c], f, " "); line = sprintf("| %s | %s | %s |", f[1], f[2], f[3])
			for (v = 1; v <= nv; v++) { key = order[c] SUBSEP vorder[v]
				line = line sprintf(" **%.2f** (%s) |", median(runs[key]), rounds[key]) }
			print line } }' "$OUT/cells.txt"
echo "# runs kept in $OUT" >&2
