#!/usr/bin/env bash
# A qualified demo worker in one command, for the guides under docs/: the steps of README sections 1 and 2
# (sign up, verify the mailed key, log in, fill in the profile, pass the Python quiz, with ops' answer key).
#
#   TOKEN=$(examples/new_worker.sh grace@example.com a-long-password-1)   -> the worker's X-Session-Token
#
# Beside a running `make run`, from the repository's folder (it reads PUBLIC_BASE_URL from var/local.env).
# An address that already has an account is refused here: allauth answers it like a new signup and mails no key.
set -euo pipefail
email=${1:?usage: examples/new_worker.sh EMAIL PASSWORD}; password=${2:?usage: examples/new_worker.sh EMAIL PASSWORD}
B=$(sed -n 's/^PUBLIC_BASE_URL=//p' var/local.env)
json() { curl -sS --fail-with-body "$@" -H 'Content-Type: application/json'; }
pick() { python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[int(k)] if k.isdigit() else v[k]
print(v)' "$1"; }
login() { json -X POST "$B/_allauth/app/v1/auth/login" -d "{\"email\": \"$1\", \"password\": \"$2\"}" | pick meta.session_token; }

mails_to() { grep -l "^To: $email" var/mail/* 2>/dev/null || true; }
before=$(mails_to)
curl -s -o /dev/null -X POST "$B/_allauth/app/v1/auth/signup" -H 'Content-Type: application/json' \
     -d "{\"email\": \"$email\", \"password\": \"$password\"}"            # 401: verification pending
mail=$(comm -13 <(echo "$before") <(mails_to) | tail -1)
if [ -z "$mail" ]; then
  echo "new_worker.sh: no verification mail for $email (an account with that address exists?)" >&2; exit 1
fi
# The key in the link is URL-encoded (':' is %3A).
link=$(grep -ho '/account/verify-email/[^ ]*' "$mail" | tail -1 || true)
if [ -z "$link" ]; then
  echo "new_worker.sh: the mail to $email has no verification link (an account with that address exists?)" >&2; exit 1
fi
key=$(echo "${link##*/}" | python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.stdin.read().strip()))')
curl -s -o /dev/null -X POST "$B/_allauth/app/v1/auth/email/verify" -H 'Content-Type: application/json' \
     -d "{\"key\": \"$key\"}"                                            # 401: verified, not signed in
token=$(login "$email" "$password")
json -o /dev/null -X PATCH "$B/api/v1/me/" -H "X-Session-Token: $token" -d '{"display_name": "'"${email%%@*}"'",
  "country": "DE", "timezone": "Europe/Berlin", "skills": ["python"], "accepted_terms_version": "2026-11"}'
attempt=$(json -X POST "$B/api/v1/quizzes/python/attempts/" -H "X-Session-Token: $token")
answer_key=$(curl -sS --fail-with-body "$B/api/v1/quizzes/python/questions/?page_size=100" \
             -H "X-Session-Token: $(login ops@example.com demo-password-123)")
json -o /dev/null -X POST "$B/api/v1/quiz-attempts/$(echo "$attempt" | pick id)/submit/" -H "X-Session-Token: $token" \
     -d "$(python3 examples/quiz_answers.py "$attempt" "$answer_key")"
echo "$token"
