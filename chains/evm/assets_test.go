package evm_test

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/settle-go/settle/chains"
	"github.com/settle-go/settle/chains/evm"
	"github.com/stretchr/testify/require"
)

func TestPresets(t *testing.T) {
	cases := []struct {
		name     string
		assets   []chains.Asset
		network  chains.NetworkID
		native   string
		decimals map[string]int32
	}{
		{"ethereum", evm.EthereumAssets(), chains.EthereumMainnet, "ETH", map[string]int32{"ETH": 18, "USDT": 6, "USDC": 6}},
		{"polygon", evm.PolygonAssets(), chains.PolygonMainnet, "POL", map[string]int32{"POL": 18, "USDT": 6, "USDC": 6}},
		{"bsc", evm.BSCAssets(), chains.BSCMainnet, "BNB", map[string]int32{"BNB": 18, "USDT": 18, "USDC": 18}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Len(t, c.assets, 3)
			require.Equal(t, c.native, c.assets[0].Code)
			require.True(t, c.assets[0].Native())
			for _, a := range c.assets {
				require.Equal(t, c.network, a.Network)
				require.Equal(t, c.decimals[a.Code], a.Decimals, a.Code)
				if a.Native() {
					continue
				}
				// Every contract is written in its EIP-55 checksummed form.
				require.NoError(t, evm.ValidateAddress(a.Network, a.Contract), a.Code)
				require.Equal(t, common.HexToAddress(a.Contract).Hex(), a.Contract, a.Code)
			}
		})
	}
	// The well-known contracts, against typos in the presets.
	require.Equal(t, "0xdAC17F958D2ee523a2206206994597C13D831ec7", evm.EthereumAssets()[1].Contract)
	require.Equal(t, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", evm.EthereumAssets()[2].Contract)
	require.Equal(t, "0xc2132D05D31c914a87C6611C10748AEb04B58e8F", evm.PolygonAssets()[1].Contract)
	require.Equal(t, "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", evm.PolygonAssets()[2].Contract)
	require.Equal(t, "0x55d398326f99059fF775485246999027B3197955", evm.BSCAssets()[1].Contract)
	require.Equal(t, "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d", evm.BSCAssets()[2].Contract)
	require.EqualValues(t, 1, evm.EthereumChainID)
	require.EqualValues(t, 137, evm.PolygonChainID)
	require.EqualValues(t, 56, evm.BSCChainID)
}
