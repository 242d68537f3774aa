# Sourced by the bench scripts. A script stops only the processes it started, by the
# PIDs it recorded, never by name. Each start is recorded in PIDS_FILE (beside the work
# directory, which is wiped at start); the next run stops what a run killed before its
# EXIT trap ran left behind. A recorded PID is signalled only while its command line
# still names the work directory, so a reused PID is never hit.

# pids_init WORKDIR: where this run records its PIDs; stops a previous run's leftovers.
pids_init() {
  PIDS_WORK=$1
  PIDS_FILE="$1.pids"
  pids_stop
  : >"$PIDS_FILE"
}

# pids_stop: stops every recorded process still running (for an EXIT trap).
pids_stop() {
  if [ -f "$PIDS_FILE" ]; then
    while read -r pid; do
      if { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$PIDS_WORK"; then
        kill "$pid" 2>/dev/null || true
      fi
    done <"$PIDS_FILE"
    sleep 0.5
  fi
}

# record PID: remember a process this run started.
record() {
  echo "$1" >>"$PIDS_FILE"
}
