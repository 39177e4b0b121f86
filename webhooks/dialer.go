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
// (loopback, private, link-local, multicast, unspecified, shared CGNAT), so that a merchant's
// webhook URL cannot probe the network settle runs in (SSRF). Set
// Config.AllowPrivateEndpoints for development receivers on localhost.
var ErrForbiddenAddress = errors.New("webhooks: endpoint address is not public")

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicOnly is a net.Dialer Control function: it runs after name resolution, on the address
// actually dialled, so DNS tricks (rebinding to 127.0.0.1) are refused too.
func publicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	a := ap.Addr().Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, a)
	}
	return nil
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
