package chains

import (
	"fmt"
	"sort"
	"sync"
)

// Registry maps network ids to adapters. It is safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	networks map[NetworkID]Network
}

// NewRegistry returns a registry holding networks. A later network with the same ID replaces an
// earlier one.
func NewRegistry(networks ...Network) *Registry {
	r := &Registry{networks: make(map[NetworkID]Network)}
	for _, n := range networks {
		r.Register(n)
	}
	return r
}

// Register adds or replaces n.
func (r *Registry) Register(n Network) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.networks[n.ID()] = n
}

// Get returns the adapter for id, or an error wrapping ErrUnknownNetwork.
func (r *Registry) Get(id NetworkID) (Network, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n, ok := r.networks[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownNetwork, id)
	}
	return n, nil
}

// Networks returns the registered networks ordered by id.
func (r *Registry) Networks() []Network {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Network, 0, len(r.networks))
	for _, n := range r.networks {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// Asset returns the asset with code on network id. Errors: ErrUnknownNetwork, ErrUnknownAsset.
func (r *Registry) Asset(id NetworkID, code string) (Network, Asset, error) {
	n, err := r.Get(id)
	if err != nil {
		return nil, Asset{}, err
	}
	a, err := FindAsset(n, code)
	return n, a, err
}
