#!/bin/sh
# Compiler launcher for the emu backend (CMake: CXX_COMPILER_LAUNCHER of the emu kernel target).
# Usage: emu_cxx.sh <compiler> <arguments...>
# Runs the compile unchanged, then, when it produced an object file (-c -o FILE), renames every
# undefined thread-local C++ symbol of that object to sg_emu_dynamic_shared. Those symbols are the
# `extern __shared__` arrays (the prelude makes __shared__ thread_local, and an extern array has no
# definition anywhere): on the device they all alias the block's dynamic shared memory, and here
# they all alias the emulator's per-thread dynamic shared arena.
set -e
"$@"
object=""
compiling=0
previous=""
for argument in "$@"; do
  [ "$argument" = "-c" ] && compiling=1
  [ "$previous" = "-o" ] && object="$argument"
  previous="$argument"
done
[ "$compiling" = 1 ] && [ -n "$object" ] && [ -f "$object" ] || exit 0
readelf="${READELF:-readelf}"
objcopy="${OBJCOPY:-objcopy}"
symbols=$("$readelf" -sW "$object" |
  awk '$4 == "TLS" && $7 == "UND" && $8 ~ /^_Z/ { print $8 }' | sort -u)
# One objcopy per symbol: objcopy refuses several renames to the same name in one call.
for symbol in $symbols; do
  "$objcopy" --redefine-sym "$symbol=sg_emu_dynamic_shared" "$object"
done
