#!/bin/sh
# The main job: the go-live weekend rehearsed for real against the test bed (the stand-in stack on this
# machine), as on launch day: Friday's pre-flight, the quick rollback rehearsed (Saturday's Go/No-Go wants
# it journaled), Saturday with a GO, the monitor for a few seconds, a quick rollback, then the runbook filled
# in (`golive report`). Ends with the report's paths.
#   tests/testbed/rehearse.sh            (as root: it brings the test bed up when it is not)
set -eu
cd "$(dirname "$0")/../.."
golive=target/debug/golive

if ! tests/testbed/testbed.sh status 2>/dev/null | grep -q "sshd up"; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the test bed is not up; bring it up with: sudo tests/testbed/testbed.sh up (README, 'The two commands')" >&2
    exit 2
  fi
  tests/testbed/testbed.sh up
fi
# Production as it is before the go-live: the previous release running, this weekend's images tagged.
tests/testbed/testbed.sh reset >/dev/null
cargo build --quiet

step() { printf '\n==== %s\n' "$*"; }
step "Friday: pre-flight (runbook 2)"
$golive scripts/friday.rhai --yes --answers tests/answers/friday.toml
step "Quick rollback rehearsed before the weekend (runbook 5.1 \"Rollback probado\", 7.1)"
$golive scripts/rollback_quick.rhai --yes
tests/testbed/testbed.sh reset >/dev/null
step "Saturday: deploy, validation, Go/No-Go, soft launch (runbook 3-6)"
$golive scripts/saturday.rhai --answers tests/answers/saturday-go.toml
step "Monitoring: table 8.1 watched (5 s on the test bed, 24 h in production)"
$golive scripts/monitor.rhai --yes
step "Quick rollback (runbook 7.1), against its 5-minute budget"
$golive scripts/rollback_quick.rhai --yes
step "The runbook filled in"
$golive report --since friday
