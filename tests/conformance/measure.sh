#!/usr/bin/env bash
# measure.sh -- render every corpus model with the bare OpenSCAD CLI and write corpus.tsv
#
# usage: tests/conformance/measure.sh [CORPUS_DIR [OUT_TSV]]
#   CORPUS_DIR  default /work/shared/corpus/openscad-examples (or $SCADSERVE_CORPUS)
#   OUT_TSV     default tests/conformance/corpus.tsv beside this script
# environment: OPENSCAD (default openscad), RENDER_TIMEOUT seconds (default 60)
#
# Each model is copied with its companion files (the files it reads, found in
# its source: import(), surface(), dxf_dim()/dxf_cross() file=, include <>,
# use <>, recursively for included .scad) into a fresh directory, and rendered
# from inside it the way the server does:
#   timeout 60 openscad --export-format binstl -o out.stl model.scad
# Models run one at a time, so the times are comparable. Columns of the TSV:
#   path      model path relative to the corpus root
#   files     comma-separated companion files, or -
#   seconds   wall time of the STL export
#   outcome   ok | 2d | empty | parse_error | timeout | error
#   note      triangles for ok; the log line that explains anything else;
#             2d models are also tried as SVG ("2d-svg-ok" / "2d-svg-failed");
#             references not beside the model ("reads MCAD/fonts.scad from the
#             library path") and unused parameter-set files are mentioned

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
corpus=${1:-${SCADSERVE_CORPUS:-/work/shared/corpus/openscad-examples}}
out=${2:-$here/corpus.tsv}
openscad=${OPENSCAD:-openscad}
limit=${RENDER_TIMEOUT:-60}

corpus=$(cd "$corpus" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/scadmeasure.XXXXXX")
tmp_out="$out.tmp.$$"
trap 'rm -rf "$work" "$tmp_out"' EXIT
trap 'echo "measure.sh: failed at line $LINENO" >&2' ERR

# Times are only comparable on an idle machine (the test picks models by them).
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
	echo "measure.sh: warning: load average $load; other work will inflate the times" >&2
fi

# Prints the file names a .scad source refers to, one per line, as written.
refs() {
	# import("x") / surface("x") / import(file = "x") / dxf_dim(file = "x", ...)
	grep -oE '\b(import|surface)[[:space:]]*\([[:space:]]*(file[[:space:]]*=[[:space:]]*)?"[^"]+"' "$1" |
		sed -E 's/.*"([^"]+)"$/\1/' || true
	grep -oE '\b(import|surface|dxf_dim|dxf_cross)[[:space:]]*\([^)]*file[[:space:]]*=[[:space:]]*"[^"]+"' "$1" |
		sed -E 's/.*"([^"]+)"$/\1/' || true
	grep -oE '\b(include|use)[[:space:]]*<[^>]+>' "$1" | sed -E 's/.*<([^>]+)>$/\1/' || true
}

# Prints what model $2 (relative to its folder $1) reads, one per line:
# "C name" for a companion that exists beside it (.scad ones are followed),
# "L name" for a reference found elsewhere (OpenSCAD's library path, or nowhere).
companions() {
	local dir=$1 todo=("$2") seen=" $2 " f r
	while ((${#todo[@]})); do
		f=${todo[0]}
		todo=("${todo[@]:1}")
		while IFS= read -r r; do
			[[ -n $r && $seen != *" $r "* ]] || continue
			seen+="$r "
			if [[ $r != /* && $r != *..* && -f $dir/$r ]]; then
				printf 'C %s\n' "$r"
				[[ $r == *.scad ]] && todo+=("$r")
			else
				printf 'L %s\n' "$r"
			fi
		done < <(refs "$dir/$f" | sort -u)
	done
	return 0
}

# Runs the CLI in directory $1 for format $2 into file $3; the log goes to
# $1/log. Sets rc and secs.
render() {
	local dir=$1 fmt=$2 file=$3 t0 t1
	t0=$(date +%s%N)
	set +e
	(cd "$dir" && env -i PATH=/usr/bin:/bin HOME="$dir" LANG=C.UTF-8 \
		timeout "$limit" "$openscad" --export-format "$fmt" -o "$file" model.scad \
		>log 2>&1 </dev/null)
	rc=$?
	set -e
	t1=$(date +%s%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
}

# First log line matching $2 in $1, temp paths stripped, tabs flattened, short.
logline() {
	{ grep -m1 -E "$2" "$1" || true; } | sed -E "s#$work/[0-9]+/##g; s/\t/ /g" | cut -c1-160
}

printf 'path\tfiles\tseconds\toutcome\tnote\n' >"$tmp_out"
n=0
while IFS= read -r rel; do
	n=$((n + 1))
	dir=$work/$n
	mkdir -p "$dir"
	mdir=$(dirname "$corpus/$rel")
	cp "$corpus/$rel" "$dir/model.scad"
	reads=$(companions "$mdir" "$(basename "$rel")")
	mapfile -t comp < <(sed -n 's/^C //p' <<<"$reads")
	libs=$(sed -n 's/^L //p' <<<"$reads" | paste -sd, -)
	params=${rel%.scad}.json
	files=-
	if ((${#comp[@]})); then
		for c in "${comp[@]}"; do
			mkdir -p "$(dirname "$dir/$c")"
			cp "$mdir/$c" "$dir/$c"
		done
		files=$(IFS=,; printf '%s' "${comp[*]}")
	fi

	render "$dir" binstl out.stl
	log=$dir/log
	if ((rc == 0)) && [[ -s $dir/out.stl ]]; then
		outcome=ok
		size=$(stat -c %s "$dir/out.stl")
		note="$(((size - 84) / 50)) triangles"
		w=$(logline "$log" '^(WARNING|DEPRECATED)')
		[[ -n $w ]] && note+="; $w"
	elif ((rc == 124)); then
		outcome=timeout
		note="killed after ${limit} s"
	elif grep -q 'Current top level object is not a 3D object' "$log"; then
		outcome=2d
		stl_secs=$secs
		render "$dir" svg out.svg
		if ((rc == 0)) && [[ -s $dir/out.svg ]]; then
			note="2d-svg-ok (svg ${secs} s)"
		else
			note="2d-svg-failed (exit $rc): $(logline "$log" 'ERROR')"
		fi
		secs=$stl_secs
	elif grep -q 'Current top level object is empty' "$log"; then
		outcome=empty
		note=$(logline "$log" '^(WARNING|ERROR)')
		[[ -n $note ]] || note="nothing to export"
	elif grep -qE 'Parser error|Parse error' "$log"; then
		outcome=parse_error
		line=$(grep -m1 -oE '(Parser|Parse) error.*line [0-9]+' "$log" | grep -oE '[0-9]+$' || true)
		note="line ${line:-?}: $(logline "$log" '(Parser|Parse) error')"
	else
		outcome=error
		note="exit $rc: $(logline "$log" 'ERROR|error')"
	fi
	[[ -n $libs ]] && note+="; reads $libs from the library path"
	[[ -f $corpus/$params ]] && note+="; parameter sets in $(basename "$params") not applied"
	printf '%s\t%s\t%s\t%s\t%s\n' "$rel" "$files" "$secs" "$outcome" "$note" >>"$tmp_out"
	printf '%-40s %6s s  %s\n' "$rel" "$secs" "$outcome" >&2
	rm -rf "$dir"
done < <(cd "$corpus" && find . -type f -name '*.scad' | sed 's#^\./##' | LC_ALL=C sort)
mv "$tmp_out" "$out"
echo "wrote $out ($n models)" >&2
