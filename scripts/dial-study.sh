#!/usr/bin/env bash
# The dialing-mode study (README "Dialing modes and pacing"): every mode at
# every team size, one `dialpop demo --dial-mode ...` each, the same seed for
# all, against the simulated FreeSWITCH with the study's far ends (30 % people,
# 12 % machines; exponential talk, 60 s mean; 10 s wrap-up). Prints one JSON
# line per point and a table.
#
#   MINUTES  simulated minutes per point (default 90)
#   SPEED    time compression (default 50)
#   SIZES    team sizes (default "10 20 50 100")
#   SEED     (default 1)
#   MODES    (default "progressive,power 1.5,power 2.0,predictive")
#   PROFILE  the cargo profile of the binary (default release; `study` is
#            the same optimization without the fat LTO, for iterating)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${MINUTES:-90}"
speed="${SPEED:-50}"
sizes="${SIZES:-10 20 50 100}"
seed="${SEED:-1}"
modes="${MODES:-progressive,power 1.5,power 2.0,predictive}"
profile="${PROFILE:-release}"
bin="${CARGO_TARGET_DIR:-target}/$profile/dialpop"
[ -x "$bin" ] || cargo build --profile "$profile"
IFS=, read -ra mode_list <<<"$modes"
out="$(mktemp)"
for n in $sizes; do
  # Enough customers that no point runs out: about 2 dials a minute per agent.
  customers=$(( n * minutes * 3 + 500 ))
  for mode in "${mode_list[@]}"; do
    set -- $mode
    args=(--dial-mode "$1")
    [ $# -gt 1 ] && args+=(--lines-per-agent "$2")
    "$bin" demo "${args[@]}" --agents "$n" --customers "$customers" --speed "$speed" \
      --minutes "$minutes" --seed "$seed" --exit-when-done --report json 2>/dev/null \
      | tail -1 | sed "s/^{/{\"agents\":$n,/" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| agents | mode | lines | occupancy | abandon overall | worst 30 min | machine rate | dial level (mean / max) | to agent (ms) | idle s between calls |")
print("|---:|---|---:|---:|---:|---:|---:|---|---:|---:|")
for r in rows:
    a = r["abandon_rate"]
    print(f"| {r['agents']} | {r['dial_mode']} | {r['lines_per_agent']:.1f} | {r['occupancy']*100:.1f} % | "
          f"{a['overall']*100:.2f} % | {a['worst_30_min']*100:.2f} % | {r['machine_rate']*100:.1f} % | "
          f"{r['dial_level']:.2f} / {r['dial_level_max']:.2f} | {r['connect_ms_mean']:.0f} | {r['idle_s_between_calls']:.1f} |")
PY
rm -f "$out"
