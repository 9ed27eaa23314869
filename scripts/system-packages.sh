#!/usr/bin/env bash
# Installs the system packages that only the test suite needs; `make test` runs it, `make batches`
# never does. Today: chromium, which renders the HTML report in tests/test_report.py, and nginx, the
# reverse proxy (TLS, path prefix, credentials) of tests/test_proxy.py (Debian puts it in /usr/sbin,
# which is not on every user's PATH: its full path counts too).
#
# A package counts as missing when none of its commands is on PATH. As root, the missing ones
# are installed with apt-get; as anyone else, the script prints the one `sudo apt-get install`
# line to run, and fails.
#
#   SYSTEM_PACKAGES  the list, as space-separated COMMANDS=PACKAGE entries, where COMMANDS is a
#                    comma-separated list of names or paths
#                    (default "chromium,chromium-browser=chromium nginx,/usr/sbin/nginx=nginx")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]:-.}")/.." && pwd)"
wanted="${SYSTEM_PACKAGES:-chromium,chromium-browser=chromium nginx,/usr/sbin/nginx=nginx}"
log="$root/build/system-packages.log"

# True when one of the comma-separated commands is on PATH.
have_one_of() {
  local name
  for name in ${1//,/ }; do
    command -v "$name" >/dev/null 2>&1 && return 0
  done
  return 1
}

missing=()
for entry in $wanted; do
  have_one_of "${entry%%=*}" || missing+=("${entry#*=}")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "system packages: missing ${missing[*]} (the test suite needs them); install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system packages: missing ${missing[*]}, and no apt-get here: install them with this system's package manager" >&2
  exit 1
fi

printf 'system packages: installing %s with apt-get ... ' "${missing[*]}"
mkdir -p "$(dirname "$log")"
start=$SECONDS
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
  echo "FAILED; the end of $log:"
  tail -n 25 "$log" | sed 's/^/  /'
  exit 1
fi
for entry in $wanted; do
  if ! have_one_of "${entry%%=*}"; then
    echo "FAILED: apt-get installed ${entry#*=}, but none of ${entry%%=*} is on PATH"
    exit 1
  fi
done
echo "done ($((SECONDS - start)) s)"
