# Shared by scripts/test and scripts/run-examples (sourced, not run).

# The repository root, whatever the caller's working directory.
JETGRAD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JETGRAD_JOBS="${JETGRAD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Seconds since `phase_start` was last called, for the timing lines.
phase_start() { JETGRAD_PHASE_T0=$SECONDS; }
phase_time() { echo "$((SECONDS - JETGRAD_PHASE_T0))s"; }

run_setup() {
  say "setup: system packages"
  bash "$JETGRAD_ROOT/scripts/setup" || die "scripts/setup failed (see above); rerun it as root, or set JETGRAD_SKIP_SETUP=1 if the dependencies are installed another way"
}

# configure_and_build <preset> [cmake --build args...]: the presets live in CMakePresets.json.
configure_and_build() {
  local preset="$1"; shift
  say "configure ($preset preset)"
  phase_start
  (cd "$JETGRAD_ROOT" && cmake --preset "$preset") || die "cmake configure failed for preset '$preset' (see above)"
  say "build ($preset preset, $JETGRAD_JOBS jobs)"
  (cd "$JETGRAD_ROOT" && cmake --build --preset "$preset" -j "$JETGRAD_JOBS" "$@") \
    || die "build failed for preset '$preset' (the compiler's message is above)"
  echo "configure + build ($preset): $(phase_time)"
}
