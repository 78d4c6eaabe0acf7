package httptransport

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/services/edge"
)

// Auth is how the transport authenticates requests; the service then
// authorizes them by the Principal it is given (grants, the session's
// owner). docs/protocol.md, "Authorization", is the contract.
type Auth struct {
	// Mode is auth.ModeNone (every subscriber is anonymous and may
	// subscribe to Anonymous) or auth.ModeJWT (subscribers present a JWT
	// that Verifier accepts; those without one get Anonymous).
	Mode     auth.Mode
	Verifier *auth.Verifier // required with ModeJWT
	// Anonymous is what a subscriber without a token may subscribe to:
	// everything in ModeNone, nothing in ModeJWT unless configured.
	Anonymous auth.Grants
	// PublishToken is the static token for POST /publish (a publisher may
	// also present a JWT with publish grants, in ModeJWT).
	PublishToken string
	// Leeway is the clock skew Verifier tolerates: a stream opened with a
	// token ends that long after the token's "exp", when it would no
	// longer be accepted.
	Leeway time.Duration
}

// errTokenRequired refuses a subscriber without a token where anonymous
// clients may not subscribe.
var errTokenRequired = fmt.Errorf("%w: a token is required (Authorization: Bearer, the %s cookie, or the %s query parameter)",
	edge.ErrUnauthorized, auth.CookieName, auth.QueryParam)

// subscriber returns the principal of a subscription request. An expired
// token's error wraps auth.ErrExpired (and edge.ErrUnauthorized).
func (a *Auth) subscriber(r *http.Request) (edge.Principal, error) {
	if a.Mode != auth.ModeJWT {
		return edge.Principal{Subscribe: a.Anonymous}, nil
	}
	token, _, err := auth.FromRequest(r)
	switch {
	case errors.Is(err, auth.ErrNoToken):
		if a.Anonymous.Empty() {
			return edge.Principal{}, errTokenRequired
		}
		return edge.Principal{Subscribe: a.Anonymous}, nil
	case err != nil:
		return edge.Principal{}, fmt.Errorf("%w: %w", edge.ErrUnauthorized, err)
	}
	return a.verify(token)
}

// publisher returns the principal of a publish request: the static publish
// token may publish anywhere; a JWT (ModeJWT) where its publish grants say.
// Only the Authorization header is looked at.
func (a *Auth) publisher(r *http.Request) (edge.Principal, error) {
	var token string
	for _, h := range r.Header.Values("Authorization") {
		if t, err := auth.ParseBearer(h); err == nil {
			token = t
			break
		}
	}
	switch {
	case token == "":
		return edge.Principal{}, fmt.Errorf("%w: Authorization: Bearer <publish token or JWT> is required", edge.ErrUnauthorized)
	case a.PublishToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(a.PublishToken)) == 1:
		return edge.Principal{Publish: auth.All()}, nil
	case a.Mode == auth.ModeJWT:
		return a.verify(token)
	}
	return edge.Principal{}, fmt.Errorf("%w: wrong publish token", edge.ErrUnauthorized)
}

func (a *Auth) verify(token string) (edge.Principal, error) {
	id, err := a.Verifier.Verify(token)
	if err != nil {
		return edge.Principal{}, fmt.Errorf("%w: %w", edge.ErrUnauthorized, err)
	}
	return edge.Principal{Subject: id.Subject, Subscribe: id.Subscribe, Publish: id.Publish, Expires: id.Expires.Add(a.Leeway)}, nil
}
