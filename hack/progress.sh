# Progress lines for the long build scripts, sourced by hack/build-tools.sh and
# hack/build-image.sh: one line per step with the time since the script began,
# and "still ..." every PROGRESS_EVERY seconds while one step runs, so a person
# (or CI's log) can tell a slow step from a stuck one. Everything goes to stderr.
#
#   progress_start NAME [STARTED]   lines read "NAME: ... … 1m12s" (STARTED: epoch seconds)
#   say TEXT...                     one line
#   with_heartbeat WHAT COMMAND...  run COMMAND in the foreground, saying "still WHAT"
#                                   meanwhile (WHAT may name a function that prints it)

PROGRESS_EVERY="${PROGRESS_EVERY:-30}"

progress_start() {
  _progress_name="$1"
  _progress_started="${2:-$(date +%s)}"
  # Ctrl-C ends the script even when the command it reached finishes anyway
  # (the Go linker does): bash would otherwise take that as handled and go on.
  trap 'exit 130' INT
}

# 42s, 1m12s, 1h02m03s since progress_start.
elapsed() {
  local s=$(($(date +%s) - _progress_started))
  if ((s < 60)); then
    printf '%ds' "$s"
  elif ((s < 3600)); then
    printf '%dm%02ds' $((s / 60)) $((s % 60))
  else
    printf '%dh%02dm%02ds' $((s / 3600)) $((s % 3600 / 60)) $((s % 60))
  fi
}

say() { printf '%s: %s … %s\n' "$_progress_name" "$*" "$(elapsed)" >&2; }

# COMMAND runs in the foreground, so Ctrl-C reaches it; its status is returned.
# (A shell function given as COMMAND runs without `set -e`: make its status its
# last command's, e.g. one pipeline under pipefail.)
with_heartbeat() {
  local what="$1"
  shift
  _heartbeat "$what" &
  local beat=$! status=0
  "$@" || status=$?
  kill "$beat" 2>/dev/null || true
  wait "$beat" 2>/dev/null || true
  return "$status"
}

# A script's background jobs ignore SIGINT, so the heartbeat cannot be stopped
# by Ctrl-C: it ends by itself within a second once the script has ended.
_heartbeat() {
  local script=$$ ticks=0 label
  while sleep 1; do
    kill -0 "$script" 2>/dev/null || return 0
    ((++ticks % PROGRESS_EVERY == 0)) || continue
    if declare -F "$1" >/dev/null; then label=$("$1"); else label="$1"; fi
    say "still $label"
  done
}
