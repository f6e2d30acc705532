#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh SECONDS [TARGET...]
#
# Builds with cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP=1; installs cargo-fuzz from
# crates.io when missing), in fuzz/target (its own target folder). Each target starts from its
# committed seed corpus (fuzz/corpus/<target>, read only) and writes what it finds to a scratch
# folder; libFuzzer stops a run on a panic, on one allocation above MALLOC_LIMIT_MB, or on RSS
# above RSS_LIMIT_MB. Prints one line per target with its executions; exits 1 if any target
# failed (the crash input is saved under fuzz/artifacts/<target>/ and the log is printed).
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
export RUSTC_BOOTSTRAP=1
export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
# No decoder may allocate more than this at once, whatever a length field says: the largest
# legitimate single allocation is a 2 MiB sync frame.
malloc_limit_mb=${MALLOC_LIMIT_MB:-16}
rss_limit_mb=${RSS_LIMIT_MB:-1024}
# A fixed seed, so a CI run explores what the same run here explored (set FUZZ_SEED=0 for a
# seed from the clock when hunting for new inputs).
fuzz_seed=${FUZZ_SEED:-1}

scratch=$(mktemp -d)
trap '[ -n "${KEEP_SCRATCH:-}" ] || rm -rf "$scratch"' EXIT
# Debug assertions on: an arithmetic overflow is a crash, not a silent wrap.
if ! cargo fuzz build --release --debug-assertions >"$scratch/build.log" 2>&1; then
  tail -n 40 "$scratch/build.log"
  exit 1
fi
failed=()
total=0
printf '%-20s %12s %10s %8s\n' target executions exec/s corpus
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "artifacts/$t"
  log="$scratch/$t.log"
  if cargo fuzz run --release --debug-assertions "$t" "$scratch/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -malloc_limit_mb="$malloc_limit_mb" -rss_limit_mb="$rss_limit_mb" \
      -max_len=70000 -timeout=10 -seed="$fuzz_seed" -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$t")
  fi
  execs=$(awk -F: '/stat::number_of_executed_units/ { gsub(/ /, "", $NF); print $NF }' "$log" | tail -n 1)
  rate=$(awk -F: '/stat::average_exec_per_sec/ { gsub(/ /, "", $NF); print $NF }' "$log" | tail -n 1)
  corpus=$(find "$scratch/$t" "corpus/$t" -type f | wc -l)
  total=$((total + ${execs:-0}))
  printf '%-20s %12s %10s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$corpus" "$status"
  if [ "$status" = FAILED ]; then
    tail -n 60 "$log"
  fi
done
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, $total executions in all, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}"
  exit 1
fi
