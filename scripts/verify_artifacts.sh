#!/usr/bin/env sh
# Scan a job's artifacts for secrets on demand (the same rules as the check after every step).
#   scripts/verify_artifacts.sh <job_id> [--fix] [--json]
# Exit: 0 clean, 1 secrets found (file:line:column and rule printed, never the value), 2 bad input.
# --fix rewrites the files with [REDACTED:<rule>] markers. Honours ORCHESTRATOR_HOME / ARTIFACTS_ROOT.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
exec node "$here/../bin/orchestrator.js" verify-artifacts "$@"
