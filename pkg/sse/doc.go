// Package sse implements the Server-Sent Events wire format of the WHATWG HTML
// standard (§9.2): an encoder that frames events so that nothing in a payload,
// type or id can start a new field or event, and a spec-compliant decoder used
// by tests, the load tool and any Go client.
//
// The package knows nothing of NATS, sessions or HTTP.
package sse
