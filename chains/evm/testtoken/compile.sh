#!/bin/sh
# Rebuilds TestToken.abi and TestToken.bin from TestToken.sol with solc 0.8.28 (solcjs), optimizer
# on (200 runs), EVM version paris (no PUSH0, so the bytecode runs on any post-merge EVM chain).
# Needs solcjs 0.8.28 (npm install solc@0.8.28) and jq. CI and users never run this: the outputs
# are committed.
set -eu
cd "$(dirname "$0")"
SOLCJS="${SOLCJS:-solcjs}"
"$SOLCJS" --version | grep -q '^0\.8\.28+' || { echo "need solcjs 0.8.28" >&2; exit 1; }
jq -n --rawfile src TestToken.sol '{
  language: "Solidity",
  sources: {"TestToken.sol": {content: $src}},
  settings: {
    optimizer: {enabled: true, runs: 200},
    evmVersion: "paris",
    outputSelection: {"*": {"*": ["abi", "evm.bytecode.object"]}}
  }
}' | "$SOLCJS" --standard-json | grep -v "^>>>" > solc-output.json.tmp
if jq -e '[.errors[]? | select(.severity == "error")] | length > 0' solc-output.json.tmp >/dev/null; then
  jq '.errors' solc-output.json.tmp >&2
  rm -f solc-output.json.tmp
  exit 1
fi
jq -c '.contracts["TestToken.sol"].TestToken.abi' solc-output.json.tmp > TestToken.abi
jq -j '.contracts["TestToken.sol"].TestToken.evm.bytecode.object' solc-output.json.tmp > TestToken.bin
rm -f solc-output.json.tmp
