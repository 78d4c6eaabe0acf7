package app

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/pkg/natsembed"
	"github.com/jetsse/jetsse/services/edge"
	"github.com/jetsse/jetsse/services/edge/httptransport"
)

// authSettings reads the authorization flags: the mode and its verifier,
// what anonymous subscribers may read, and the trusted proxies. --auth
// none is refused on an HTTP listener reachable beyond loopback unless
// --allow-anonymous says so.
func authSettings(c config, logger *slog.Logger) (*httptransport.Auth, *httptransport.Proxies, error) {
	mode, err := auth.ParseMode(c.authMode)
	if err != nil {
		return nil, nil, fmt.Errorf("--auth: %w", err)
	}
	proxies, err := httptransport.ParseProxies(c.trustedProxy, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("--trusted-proxy: %w", err)
	}
	a := &httptransport.Auth{Mode: mode, Leeway: c.jwtLeeway}
	jwtFlags := c.jwtKeyFile != "" || c.jwtPublicKeyFile != "" || c.jwtJWKSFile != "" || c.anonymousSubscribe != ""
	switch mode {
	case auth.ModeNone:
		if jwtFlags {
			return nil, nil, fmt.Errorf("--jwt-* and --anonymous-subscribe need --auth jwt")
		}
		if (c.httpAddr == "" || !natsembed.LoopbackOnly(c.httpAddr)) && !c.allowAnonymous { // the NATS port's rule ("" listens everywhere here)
			return nil, nil, fmt.Errorf("--auth none with --http-addr %q lets anyone who reaches it read every topic and its history: "+
				"use --auth jwt, or listen on loopback only (--http-addr 127.0.0.1:8080), or pass --allow-anonymous to mean it", c.httpAddr)
		}
		a.Anonymous = auth.All()
	case auth.ModeJWT:
		if a.Verifier, err = auth.NewVerifier(auth.Config{
			KeyFile: c.jwtKeyFile, PublicKeyFile: c.jwtPublicKeyFile, JWKSFile: c.jwtJWKSFile,
			Issuer: c.jwtIssuer, Audience: c.jwtAudience, Leeway: c.jwtLeeway,
		}); err != nil {
			return nil, nil, fmt.Errorf("--auth jwt: %w", err)
		}
		var patterns []string
		for _, p := range strings.Split(c.anonymousSubscribe, ",") {
			if p = strings.TrimSpace(p); p != "" {
				patterns = append(patterns, p)
			}
		}
		if a.Anonymous, err = auth.NewGrants(patterns); err != nil {
			return nil, nil, fmt.Errorf("--anonymous-subscribe: %w", err)
		}
		if c.allowAnonymous {
			return nil, nil, fmt.Errorf("--allow-anonymous is for --auth none; with --auth jwt, name what clients without a token may read with --anonymous-subscribe")
		}
	}
	return a, proxies, nil
}

// admission turns the limit flags into the service's limits (a flag's 0,
// no limit, is the service's negative).
func admission(c config) edge.Admission {
	off := func(n int) int {
		if n <= 0 {
			return -1
		}
		return n
	}
	offRate := func(r float64) float64 {
		if r <= 0 {
			return -1
		}
		return r
	}
	return edge.Admission{
		MaxConnections:                off(c.maxConnections),
		MaxConnectionsPerClient:       off(c.maxConnectionsPerIP),
		NewSessionsPerSecond:          offRate(c.newSessionsRate),
		NewSessionsPerClientPerSecond: offRate(c.newSessionsPerIPRate),
	}
}
