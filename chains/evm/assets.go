package evm

import "github.com/settle-go/settle/chains"

// EIP-155 chain ids of the networks with presets.
const (
	EthereumChainID = 1
	PolygonChainID  = 137
	BSCChainID      = 56
	SepoliaChainID  = 11155111
	// SimulatedChainID is the chain id of go-ethereum's ethclient/simulated backend.
	SimulatedChainID = 1337
)

// knownChainIDs maps the networks settle knows to their chain ids; New refuses a client on
// another chain.
var knownChainIDs = map[chains.NetworkID]int64{
	chains.EthereumMainnet: EthereumChainID,
	chains.EthereumSepolia: SepoliaChainID,
	chains.PolygonMainnet:  PolygonChainID,
	chains.BSCMainnet:      BSCChainID,
}

// EthereumAssets returns the assets settle carries on Ethereum mainnet (chain id 1): ETH
// (18 decimals), Tether USDT (6) and Circle USDC (6), with their mainnet contracts.
func EthereumAssets() []chains.Asset {
	n := chains.EthereumMainnet
	return []chains.Asset{
		{Code: "ETH", Network: n, Decimals: 18},
		{Code: "USDT", Network: n, Contract: "0xdAC17F958D2ee523a2206206994597C13D831ec7", Decimals: 6},
		{Code: "USDC", Network: n, Contract: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", Decimals: 6},
	}
}

// PolygonAssets returns the assets settle carries on Polygon PoS mainnet (chain id 137): POL
// (18 decimals), Tether USDT (6) and Circle's native USDC (6; not the bridged USDC.e), with
// their mainnet contracts.
func PolygonAssets() []chains.Asset {
	n := chains.PolygonMainnet
	return []chains.Asset{
		{Code: "POL", Network: n, Decimals: 18},
		{Code: "USDT", Network: n, Contract: "0xc2132D05D31c914a87C6611C10748AEb04B58e8F", Decimals: 6},
		{Code: "USDC", Network: n, Contract: "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", Decimals: 6},
	}
}

// BSCAssets returns the assets settle carries on BNB Smart Chain mainnet (chain id 56): BNB
// (18 decimals), Binance-Peg USDT and Binance-Peg USDC, both with 18 decimals on chain (unlike
// on Ethereum), with their mainnet contracts.
func BSCAssets() []chains.Asset {
	n := chains.BSCMainnet
	return []chains.Asset{
		{Code: "BNB", Network: n, Decimals: 18},
		{Code: "USDT", Network: n, Contract: "0x55d398326f99059fF775485246999027B3197955", Decimals: 18},
		{Code: "USDC", Network: n, Contract: "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d", Decimals: 18},
	}
}
