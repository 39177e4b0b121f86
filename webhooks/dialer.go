package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress: an endpoint resolved to an address the default client refuses to reach
// (loopback, private, link-local, multicast, unspecified, shared CGNAT, NAT64 local-use, or one
// of these carried inside a NAT64 or 6to4 address), so that a merchant's
// webhook URL cannot probe the network settle runs in (SSRF). Set
// Config.AllowPrivateEndpoints for development receivers on localhost.
var ErrForbiddenAddress = errors.New("webhooks: endpoint address is not public")

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// IPv6 prefixes that carry an IPv4 address, which a gateway may forward to: NAT64's well-known
// prefix (RFC 6052), with the IPv4 address in the last four bytes, and 6to4 (RFC 3056), with it in
// bytes 2–5; the embedded address is checked as if dialled itself. NAT64's local-use prefix
// (RFC 8215) is a local network's, never public.
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
)

// publicOnly is a net.Dialer Control function: it runs after name resolution, on the address
// actually dialled, so DNS tricks (rebinding to 127.0.0.1) are refused too.
func publicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	a := ap.Addr().Unmap()
	if v4, ok := embeddedIPv4(a); ok && !public(v4) {
		return fmt.Errorf("%w: %s (carries %s)", ErrForbiddenAddress, a, v4)
	}
	if !public(a) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, a)
	}
	return nil
}

func public(a netip.Addr) bool {
	return !(a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a) ||
		nat64Local.Contains(a))
}

// embeddedIPv4 returns the IPv4 address a NAT64 or 6to4 address carries, and false for any other.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// defaultClient is the delivery client when Config.HTTPClient is nil: a timeout, no redirects,
// and, unless allowPrivate, a dialer that reaches public addresses only.
func defaultClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = publicOnly
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a proxy would dial on our behalf, past the address check
	tr.DialContext = dialer.DialContext
	return &http.Client{
		Timeout:   DefaultRequestTimeout,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
