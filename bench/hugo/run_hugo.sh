#!/usr/bin/env bash
# Build a site made by make_site.py once and print its wall time and peak RSS.
#
# usage: run_hugo.sh SITE_DIR [OUTDIR]
#   OUTDIR defaults to SITE_DIR-public and is deleted before the build.
# prints: wall_s=<seconds> maxrss_kb=<kB> (one line on stdout; Hugo's own output
#         and the full `time -v` report go to SITE_DIR-last-run.log)
#
# Every run starts cold as far as Hugo is concerned: empty output folder, a fresh
# empty --cacheDir (deleted afterwards) and --ignoreCache. The OS page cache is
# not dropped, so the content files are read from memory after the first run.
# Set HUGO=/path/to/hugo to use another binary.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 SITE_DIR [OUTDIR]" >&2
    exit 2
fi
site=$(realpath "$1")
out=$(realpath -m "${2:-${site%/}-public}")
hugo=${HUGO:-hugo}
log="${site%/}-last-run.log"

[[ -f "$site/hugo.toml" ]] || { echo "no hugo.toml in $site" >&2; exit 2; }
case "$out" in
    "$site"|"$site"/content*|/|"") echo "refusing to delete $out" >&2; exit 2 ;;
esac

rm -rf "$out" "$site/resources/_gen"
cache=$(mktemp -d "${TMPDIR:-/tmp}/hugo-bench-cache.XXXXXX")
trap 'rm -rf "$cache"' EXIT
timing=$(mktemp "${TMPDIR:-/tmp}/hugo-bench-time.XXXXXX")
trap 'rm -rf "$cache" "$timing"' EXIT

set +e
/usr/bin/time -v -o "$timing" "$hugo" --quiet --noBuildLock --ignoreCache \
    --cacheDir "$cache" -s "$site" -d "$out" >"$log" 2>&1
rc=$?
set -e
cat "$timing" >>"$log"
if [[ $rc -ne 0 ]]; then
    echo "hugo failed (exit $rc), see $log" >&2
    tail -20 "$log" >&2
    exit $rc
fi

awk -F': ' '
    /Elapsed \(wall clock\) time/ {
        n = split($NF, p, ":"); s = 0
        for (i = 1; i <= n; i++) s = s * 60 + p[i]
        wall = s
    }
    /Maximum resident set size/ { rss = $NF }
    END { printf "wall_s=%.2f maxrss_kb=%d\n", wall, rss }
' "$timing"
