#!/bin/sh
# Build check (ctest): code compiled with -mavx2 must never be chosen for the portable path.
#
# Inline functions and templates instantiated in a *_avx2.cpp object are emitted as weak symbols;
# if a portable object emits the same weak symbol, the linker keeps ONE copy, possibly the AVX2
# one, and a CPU without AVX2 would then crash in "portable" code. So: the weak symbols defined by
# AVX2 objects and by portable objects must not intersect.
# Usage: check_avx2_isolation.sh <object files of serengeti_core...>
set -eu
nm_tool="${NM:-nm}"
avx2=$(mktemp)
portable=$(mktemp)
trap 'rm -f "$avx2" "$portable"' EXIT
for object in "$@"; do
  case "$object" in
    *_avx2.cpp.o|*_avx2.cpp.obj) out="$avx2" ;;
    *) out="$portable" ;;
  esac
  "$nm_tool" --defined-only "$object" | awk '$2 ~ /^[WVu]$/ { print $3 }' >> "$out"
done
sort -u -o "$avx2" "$avx2"
sort -u -o "$portable" "$portable"
shared=$(comm -12 "$avx2" "$portable")
if [ -n "$shared" ]; then
  echo "weak symbols defined by both AVX2 and portable objects (the linker may pick the AVX2 copy):"
  echo "$shared" | c++filt | sed 's/^/  /'
  echo "0 passed, 1 failed"
  exit 1
fi
echo "avx2 objects: $(wc -l < "$avx2") weak symbols, none shared with portable objects"
echo "1 passed, 0 failed"
