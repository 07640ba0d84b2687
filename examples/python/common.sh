# Sourced by run_server.sh and run_client.sh: the package built into build/python
# (FEDSILO_PYTHONPATH for another), Debian's python3, and the program named first (default
# one_line) in $program.
cd "$(dirname "${BASH_SOURCE[0]}")"
root="$(cd ../.. && pwd)"
export PYTHONPATH="${FEDSILO_PYTHONPATH:-$root/build/python}${PYTHONPATH:+:$PYTHONPATH}"
export FEDSILO_DATA_DIR="${FEDSILO_DATA_DIR:-$root/data}"
program=one_line
case "${1:-}" in one_line | five_lines | custom_data_and_model) program=$1 ;; esac

# Runs the program with fedsilo's options "$@" through the lean launcher when it is built: with
# several trainers per node it starts the program once per trainer (no interpreter importing
# torch just to start them), else it runs the program itself with the engine's start-up
# settings (the huge-page heap).
run_program() {
  local launcher="${FEDSILO_LAUNCHER:-$root/build/fedsilo}"
  if [ -x "$launcher" ]; then
    exec "$launcher" launch --or-run --exe /usr/bin/python3 "$program.py" -- "$@"
  fi
  exec /usr/bin/python3 "$program.py" "$@"
}
