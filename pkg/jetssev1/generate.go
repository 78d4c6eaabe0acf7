// Package jetssev1 is the Go generated from proto/jetsse/v1: the JSON
// messages of jetsse's HTTP API and of a connection's control events. The
// .pb.go files are generated, never edited: `go generate ./pkg/jetssev1`
// runs the pinned buf, and CI fails when they differ from the sources.
package jetssev1

//go:generate go run github.com/bufbuild/buf/cmd/buf@v1.75.0 generate --template ../../buf.gen.yaml -o ../.. ../../proto
