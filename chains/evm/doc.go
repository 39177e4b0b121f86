// Package evm is settle's adapter for EVM chains: Ethereum, Polygon PoS, BNB Smart Chain, and any
// development chain that speaks the Ethereum JSON-RPC API (such as go-ethereum's simulated backend,
// see package evmtest).
//
// A *Network implements chains.Network, chains.AddressDeriver, chains.Watcher, chains.Sender and
// chains.BalanceReader for one chain: its native coin (ETH, POL, BNB) and a configured set of
// ERC-20 tokens (https://eips.ethereum.org/EIPS/eip-20). Presets with the real mainnet contracts
// are EthereumAssets, PolygonAssets and BSCAssets.
//
// Amounts are base units (*big.Int): wei for the native coins, the token's own on-chain decimals
// for tokens (6 for USDT on Ethereum, 18 for USDT on BNB Smart Chain).
//
// Addresses are validated with the EIP-55 mixed-case checksum
// (https://eips.ethereum.org/EIPS/eip-55) and rendered in it.
//
// Keys: private keys stay behind the Signer interface. HDSigner is an in-memory signer for
// development that derives BIP-44 keys m/44'/60'/0'/0/i from a BIP-32 seed; index 0 is the hot
// wallet that payouts are sent from. XPubDeriver derives the same addresses from the extended
// public key alone, for processes that hand out deposit addresses and must not hold keys.
//
// What the watcher sees: ERC-20 Transfer events of the configured token contracts, and top-level
// native-coin transfers (a transaction whose own "to" is a watched address and whose own value is
// positive). Native coin moved by a contract (an "internal transaction", such as a withdrawal from
// an exchange's smart-contract wallet) emits no event and is NOT seen; reconcile such deposits with
// Network.Balance.
package evm
