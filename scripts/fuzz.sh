#!/usr/bin/env bash
# Fuzzes FedGuard's parsers of untrusted files with libFuzzer and AddressSanitizer.
#
#   scripts/fuzz.sh [--runs N] [--seconds S] [FORMAT...]     (default: every format, --seconds 30; both: whichever first)
#
# Formats: gguf safetensors tokenizer chat-jsonl preference-jsonl run-config adapter-config constitution
# (Sources/FuzzTargets). Each starts from fuzz/corpus/FORMAT (the committed seeds; new inputs go to a
# scratch copy) and stops at the first crash, leak, timeout (-timeout=10 s per input) or allocation
# over -malloc_limit_mb=512 (-rss_limit_mb=2048); the input is saved as fuzz/crashes/FORMAT/…, to be
# committed as a regression case once fixed (the tests replay that folder). Prints each format's
# executions and exec/s.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
budget=() formats=()
while (($#)); do
  case "$1" in
    --runs) budget+=(-runs="$2"); shift 2 ;;
    --seconds) budget+=(-max_total_time="$2"); shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | cut -c3-; exit 0 ;;
    *) formats+=("$1"); shift ;;
  esac
done
((${#budget[@]})) || budget=(-max_total_time=30)
((${#formats[@]})) || formats=(gguf safetensors tokenizer chat-jsonl preference-jsonl run-config adapter-config constitution)

echo "== building fedguard-fuzz with -sanitize=fuzzer,address (.build-fuzz)" >&2
(cd "$root" && swift build -c release --product fedguard-fuzz --build-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING \
  -Xcc -fsanitize=fuzzer-no-link,address >&2)
binary="$root/.build-fuzz/release/fedguard-fuzz"

work="$(mktemp -d /tmp/fedguard-fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT
shm=/tmp; [[ -d /dev/shm ]] && shm=/dev/shm
status=0
for format in "${formats[@]}"; do
  mkdir -p "$work/$format" "$root/fuzz/crashes/$format"
  cp "$root/fuzz/corpus/$format"/* "$work/$format/"
  log="$work/$format.log"
  scratch="$shm/fedguard-fuzz-$$-$format"  # the parsers that map files read each input from here
  if FEDGUARD_FUZZ_SCRATCH="$scratch" ASAN_OPTIONS=detect_leaks=0 "$binary" "$format" "$work/$format" "${budget[@]}" -timeout=10 -malloc_limit_mb=512 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$root/fuzz/crashes/$format/" >"$log" 2>&1; then
    result="ok"
  else
    result="FAILED (see fuzz/crashes/$format/)"; status=1
    grep -E "ERROR|SUMMARY|==[0-9]+==|Fatal error|out-of-memory|timeout" "$log" | head -8 >&2 || true
  fi
  rm -rf "$scratch"
  runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")"
  speed="$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")"
  printf '%-17s %10s inputs  %8s exec/s  %s\n' "$format" "$runs" "$speed" "$result"
done
exit $status
