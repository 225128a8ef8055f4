#!/usr/bin/env bash
# measure.sh -- render every corpus model with the bare OpenSCAD CLI and write corpus.tsv
#
# usage: tests/conformance/measure.sh [CORPUS_DIR [OUT_TSV]]
#   CORPUS_DIR  default /work/shared/corpus/openscad-examples (or $SCADSERVE_CORPUS)
#   OUT_TSV     default tests/conformance/corpus.tsv beside this script
# environment: OPENSCAD (default openscad), RENDER_TIMEOUT seconds (default 60),
#   STLCMP (default build/stlcmp: make build first),
#   SCADSERVE_URL: a running scadserve (e.g. http://127.0.0.1:18123, render
#   requests from this host not rate-limited) to measure the WASM engine with;
#   without it the wasm columns are carried over from the old OUT_TSV.
#
# Each model is copied with its companion files (the files it reads, found in
# its source: import(), surface(), dxf_dim()/dxf_cross() file=, include <>,
# use <>, recursively for included .scad) into a fresh directory, and rendered
# from inside it the way the server does:
#   timeout 60 openscad --export-format binstl -o out.stl model.scad
# Models run one at a time, so the times are comparable. Then the same model
# goes to SCADSERVE_URL's POST /api/render with "engine": "wasm" (OpenSCAD
# 2025 WebAssembly, manifold): as STL, and 2D models as SVG and DXF.
# Columns of the TSV:
#   path      model path relative to the corpus root
#   files     comma-separated companion files, or -
#   seconds   wall time of the STL export
#   outcome   ok | 2d | empty | parse_error | timeout | error
#   note      triangles for ok; the log line that explains anything else;
#             2d models are also tried as SVG ("2d-svg-ok" / "2d-svg-failed");
#             references not beside the model ("reads MCAD/fonts.scad from the
#             library path") and unused parameter-set files are mentioned
#   bbox      ok: the CLI STL's bounding box XMIN,YMIN,ZMIN,XMAX,YMAX,ZMAX
#             (stlcmp --geom), else -
#   volume    ok: the CLI STL's volume (divergence theorem), else -
#   wasm      what the WASM engine does with the model:
#               agree    ok in the CLI; WASM answers 200 STL whose bounding box
#                        and volume agree with bbox/volume (stlcmp --geom
#                        default tolerances: 1e-3, 1 %)
#               differs  ok in the CLI; WASM answers 200 STL that does not agree
#               renders  the CLI rejects it; WASM answers 200 STL
#               rejects  WASM answers a 4xx error JSON (wasm_note: its type)
#               falls_back  ok in the CLI; WASM alone answers renderer_crashed (a crash,
#                        or a part it dropped), so by default the CLI renders it
#               2d       the CLI says 2D; WASM answers 200 SVG and 200 DXF
#               broken   anything else (5xx, 2D formats failing): wasm_note says
#   wasm_bbox, wasm_volume  the WASM STL's figures, when it answered 200 STL
#   wasm_note why (a person writes it: the reason of a differs, renders or falls_back is
#             carried over from the old TSV while the class stays the same; a new
#             one reads "unexplained: ..." and the test fails until it is
#             explained)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
corpus=${1:-${SCADSERVE_CORPUS:-/work/shared/corpus/openscad-examples}}
out=${2:-$here/corpus.tsv}
openscad=${OPENSCAD:-openscad}
limit=${RENDER_TIMEOUT:-60}
stlcmp=${STLCMP:-$here/../../build/stlcmp}
url=${SCADSERVE_URL:-}
[[ -x $stlcmp ]] || { echo "measure.sh: missing $stlcmp (make build)" >&2; exit 1; }
if [[ -n $url ]]; then
	command -v jq >/dev/null || { echo "measure.sh: SCADSERVE_URL needs jq" >&2; exit 1; }
	curl -sf "$url/api/health" | jq -e '.engines[] | select(.name == "wasm")' >/dev/null ||
		{ echo "measure.sh: $url/api/health lists no wasm engine" >&2; exit 1; }
fi

corpus=$(cd "$corpus" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/scadmeasure.XXXXXX")
tmp_out="$out.tmp.$$"
trap 'rm -rf "$work" "$tmp_out"' EXIT
# The old TSV's wasm columns by path (carried over: see wasm_note above).
declare -A old_wasm=()
if [[ -r $out ]]; then
	while IFS=$'\t' read -r o_path _ _ _ _ _ _ o_wasm o_wb o_wv o_wn; do
		[[ $o_path == path || -z ${o_wasm:-} ]] && continue
		old_wasm[$o_path]="$o_wasm"$'\t'"$o_wb"$'\t'"$o_wv"$'\t'"$o_wn"
	done <"$out"
fi
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

# The figures of STL $1 as "XMIN,...,ZMAX<TAB>VOLUME" (stlcmp --geom).
figures() {
	"$stlcmp" --geom "$1" | sed -n 's/^geom:\(.*\),\([^,]*\)$/\1\t\2/p'
}

# POSTs staged directory $1 (model.scad, companions $2) to SCADSERVE_URL with
# engine wasm in format $3; the body goes to $1/wasm.$3, the status to $code,
# the error type (or -) to $etype, the X-Engine header to $xengine.
wasm_post() {
	local dir=$1 files=$2 fmt=$3 f
	printf '{}' >"$dir/files.json"
	if [[ $files != - ]]; then
		local IFS=,
		for f in $files; do
			base64 -w0 "$dir/$f" >"$dir/b64"
			jq --arg n "$f" --rawfile b "$dir/b64" '. + {($n): $b}' \
				"$dir/files.json" >"$dir/files.tmp"
			mv "$dir/files.tmp" "$dir/files.json"
		done
	fi
	jq -n --rawfile src "$dir/model.scad" --slurpfile files "$dir/files.json" \
		--arg format "$fmt" '{source: $src, files: $files[0], format: $format, engine: "wasm"}' \
		>"$dir/req.json"
	code=$(curl -sS --max-time 120 -H 'Expect:' -H 'Content-Type: application/json' \
		--data-binary "@$dir/req.json" -D "$dir/wasm.headers" -o "$dir/wasm.$fmt" \
		-w '%{http_code}' "$url/api/render") || code=000
	xengine=$(grep -i '^x-engine:' "$dir/wasm.headers" | tail -n 1 | cut -d: -f2- | tr -d ' \r' || true)
	etype=$(jq -r '.error.type // "-"' "$dir/wasm.$fmt" 2>/dev/null || echo -)
}

# Classifies what the WASM engine does with staged model $1 (companions $2)
# whose CLI outcome is $3 with CLI figures $4 (or -); sets wasm, wasm_bbox,
# wasm_volume and wasm_note (without the reason).
wasm_measure() {
	local dir=$1 files=$2 outcome=$3 cli=$4 diffs svg_code
	wasm_bbox=- wasm_volume=- wasm_note=-
	if [[ $outcome == 2d ]]; then
		wasm_post "$dir" "$files" svg
		svg_code=$code
		if [[ $code == 200 ]] && grep -q '<svg' "$dir/wasm.svg"; then
			wasm_post "$dir" "$files" dxf
			if [[ $code == 200 ]] && grep -q ENTITIES "$dir/wasm.dxf"; then
				wasm=2d
				return
			fi
		fi
		wasm=broken wasm_note="svg $svg_code, dxf ${code} ($etype)"
		return
	fi
	wasm_post "$dir" "$files" stl
	if [[ $code == 200 && $xengine == wasm ]] && [[ -s $dir/wasm.stl ]]; then
		IFS=$'\t' read -r wasm_bbox wasm_volume < <(figures "$dir/wasm.stl")
		if [[ $outcome != ok ]]; then
			wasm=renders
		elif "$stlcmp" --geom "geom:$cli" "$dir/wasm.stl" >"$dir/geomcmp"; then
			wasm=agree
		else
			wasm=differs
			diffs=$(sed -n 's/^differs: //p' "$dir/geomcmp" | paste -sd';' - | sed 's/  */ /g')
			wasm_note="unexplained: $diffs"
		fi
	elif [[ $outcome == ok && $code == 422 && $etype == renderer_crashed ]]; then
		wasm=falls_back wasm_note="unexplained: renderer_crashed"
	elif [[ $code == 4[0-9][0-9] && $etype != - ]]; then
		wasm=rejects wasm_note=$etype
	else
		wasm=broken wasm_note="HTTP $code, engine ${xengine:-none}, $etype"
	fi
}

printf 'path\tfiles\tseconds\toutcome\tnote\tbbox\tvolume\twasm\twasm_bbox\twasm_volume\twasm_note\n' >"$tmp_out"
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
	bbox=- volume=-
	if [[ $outcome == ok ]]; then
		IFS=$'\t' read -r bbox volume < <(figures "$dir/out.stl")
	fi
	if [[ -n $url ]]; then
		wasm_measure "$dir" "$files" "$outcome" "$bbox,$volume"
		# A person's reason stays while the class does.
		IFS=$'\t' read -r o_wasm _ _ o_note <<<"${old_wasm[$rel]:-}"
		if [[ ${o_wasm:-} == "$wasm" && -n ${o_note:-} && ${o_note:-} != unexplained* &&
			$wasm =~ ^(differs|renders|falls_back)$ ]]; then
			wasm_note=$o_note
		fi
	elif [[ -n ${old_wasm[$rel]:-} ]]; then
		IFS=$'\t' read -r wasm wasm_bbox wasm_volume wasm_note <<<"${old_wasm[$rel]}"
	else
		wasm=- wasm_bbox=- wasm_volume=- wasm_note="not measured (no SCADSERVE_URL)"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rel" "$files" "$secs" \
		"$outcome" "$note" "$bbox" "$volume" "$wasm" "$wasm_bbox" "$wasm_volume" \
		"$wasm_note" >>"$tmp_out"
	printf '%-40s %6s s  %-11s wasm %s\n' "$rel" "$secs" "$outcome" "$wasm" >&2
	rm -rf "$dir"
done < <(cd "$corpus" && find . -type f -name '*.scad' | sed 's#^\./##' | LC_ALL=C sort)
mv "$tmp_out" "$out"
echo "wrote $out ($n models)" >&2
