#!/usr/bin/env bash
# POST an example job to a running gateway (`npm run dev` in another terminal), then show where
# to follow it. Works as is against the dev defaults: http://127.0.0.1:8080 and token dev-token.
#
#   scripts/webhook_example.sh [payload.json]
#   ORCHESTRATOR_URL=https://orchestrator.example.com WEBHOOK_TOKEN=... scripts/webhook_example.sh
set -euo pipefail

cd "$(dirname "$0")/.."
url="${ORCHESTRATOR_URL:-http://${HOST:-127.0.0.1}:${PORT:-8080}}"
token="${WEBHOOK_TOKEN:-dev-token}"
payload="${1:-examples/webhook_payloads/simple.json}"

response="$(curl -sS -X POST "$url/webhook" \
  -H "Authorization: Bearer $token" \
  -H "Content-Type: application/json" \
  -H "Idempotency-Key: example-$(date +%s)-$$" \
  --data-binary @"$payload" \
  -w '\n%{http_code}')"
code="${response##*$'\n'}"
body="${response%$'\n'*}"
echo "HTTP $code"
echo "$body"
case "$code" in
  200|202) ;;
  *) exit 1 ;;
esac

job_id="$(printf '%s' "$body" | sed -n 's/.*"job_id":"\([^"]*\)".*/\1/p')"
echo
echo "status:  curl -s -H 'Authorization: Bearer $token' $url/jobs/$job_id"
echo "follow:  curl -sN -H 'Authorization: Bearer $token' $url/jobs/$job_id/events"
echo "     or: ORCHESTRATOR_URL=$url ORCHESTRATOR_TOKEN=$token node bin/orchestrator.js logs $job_id --follow"
