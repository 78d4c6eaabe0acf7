package bench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// CheckLoopback returns an error unless every host in the URLs (or
// host:port addresses) is a loopback address or resolves only to loopback
// addresses.
func CheckLoopback(ctx context.Context, targets ...string) error {
	for _, t := range targets {
		if t == "" {
			continue
		}
		for _, one := range strings.Split(t, ",") {
			host, err := hostOf(strings.TrimSpace(one))
			if err != nil {
				return err
			}
			if err := loopbackHost(ctx, host); err != nil {
				return fmt.Errorf("%s: %w", one, err)
			}
		}
	}
	return nil
}

func hostOf(s string) (string, error) {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", err
		}
		return u.Hostname(), nil
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is neither a URL nor host:port", s)
	}
	return host, nil
}

func loopbackHost(ctx context.Context, host string) error {
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address (pass --allow-remote to allow it)", host)
		}
		return nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("%s resolves to %s, not a loopback address (pass --allow-remote to allow it)", host, a.IP)
		}
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%s resolves to nothing", host)
	}
	return nil
}
