#!/usr/bin/env bash
# Binance's official Python Spot SDK against the aegis-paper command (issue 22, point 4).
#
#   bash paper/sdk-check/run.sh [-v]      (AEGIS_PAPER_BIN: the command, default target/release/aegis-paper)
#
# Creates a virtual environment with the pinned SDK (requirements.txt, from the package registry)
# in target/sdk-venv, an Ed25519 key pair, and an exchangeInfo (the bundled one with BTCUSDT in a
# SOR group and allowing OPO lists, which the bundled capture predates); starts the command on
# free ports; runs check.py; stops the command with SIGTERM and requires a clean exit.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${AEGIS_PAPER_BIN:-$root/target/release/aegis-paper}"
work="$root/target/sdk-check"
venv="$root/target/sdk-venv"
mkdir -p "$work"

if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3 python3-venv
fi
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi

"$venv/bin/python" - "$work" "$root/src/rules/bundled_exchange_info.json" <<'EOF'
import json, sys
from Crypto.PublicKey import ECC
work, bundled = sys.argv[1], sys.argv[2]
key = ECC.generate(curve="ed25519")
open(f"{work}/ed25519-private.pem", "w").write(key.export_key(format="PEM"))
open(f"{work}/ed25519-public.pem", "w").write(key.public_key().export_key(format="PEM"))
info = json.load(open(bundled))
for s in info["symbols"]:
    if s["symbol"] == "BTCUSDT":
        s["opoAllowed"] = True
info["sors"] = [{"baseAsset": "BTC", "symbols": ["BTCUSDT"]}]
json.dump(info, open(f"{work}/exchange_info.json", "w"))
EOF

# The synthetic book 10 USDT either side of the mid (1,000 ticks), so the account's own orders
# can meet inside the spread (self-trade prevention).
printf '[walk]\nlevel_gap_ticks = 1000\n' > "$work/paper.toml"
"$bin" --config "$work/paper.toml" --rest-port 0 --ws-port 0 --latency none --seed 5 \
  --exchange-info "$work/exchange_info.json" \
  --price BTCUSDT=65000 --price ETHUSDT=3000 \
  --balance USDT=100000 --balance BTC=2 --balance ETH=10 \
  --hmac-key sdkKey:sdkSecret --ed25519-key "sdkEdKey:$work/ed25519-public.pem" \
  > "$work/banner.txt" 2> "$work/paper.log" &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q '^Ctrl-C' "$work/banner.txt" 2>/dev/null && break
  sleep 0.1
done
rest=$(awk '$1 == "REST" {print $2}' "$work/banner.txt")
ws=$(awk '$1 == "WebSocket" && $2 == "API" {print $3}' "$work/banner.txt")
ws=${ws%/ws-api/v3}
if [ -z "$rest" ] || [ -z "$ws" ]; then
  echo "aegis-paper did not start:"; cat "$work/banner.txt" "$work/paper.log"; exit 1
fi

status=0
"$venv/bin/python" "$here/check.py" --rest "$rest" --ws "$ws" --hmac sdkKey:sdkSecret \
  --ed25519 "sdkEdKey:$work/ed25519-private.pem" "$@" || status=$?

kill -TERM "$pid"
for _ in $(seq 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  echo "aegis-paper still running 5 s after SIGTERM"; exit 1
fi
wait "$pid" || { echo "aegis-paper exited with $?"; exit 1; }
trap - EXIT
exit "$status"
