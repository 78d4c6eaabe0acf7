# syntax=docker/dockerfile:1
#
# The jetsse image: a static binary on distroless, running as uid/gid 65532.
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t jetsse:dev .
#   docker run --rm -p 8080:8080 -v jetsse-data:/data jetsse:dev
#   docker run --rm jetsse:dev version
#
# VERSION is passed to the linker as -X main.version=$VERSION, which
# `jetsse version` reports (without it: the module version from the build
# info, "(devel)" here).
#
# deploy/README.md explains how to push the image for Kubernetes and how
# docker-compose.yml uses it.

FROM golang:1.26 AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/jetsse ./cmd/jetsse
# The data directory, made here because the final image has no shell to
# make it: owned by 65532 (below), private to it.
RUN install -d -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="jetsse" \
      org.opencontainers.image.description="SSE edge on NATS JetStream" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/jetsse /usr/local/bin/jetsse
COPY --from=build --chown=65532:65532 /out/data /data
# Numeric, so Kubernetes' runAsNonRoot can verify it without runAsUser.
USER 65532:65532
VOLUME /data
# The public listener: SSE (/events), /publish, /healthz, /readyz.
# The admin listener (/metrics, pprof, /v1/sessions) stays on its default
# 127.0.0.1:9090 here; set --admin-addr=0.0.0.0:9090 only on a private
# network and never publish it.
EXPOSE 8080
# GETs http://127.0.0.1:8080/readyz; change --url with --http-addr.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/jetsse", "health"]
ENTRYPOINT ["/usr/local/bin/jetsse"]
# Quick start: one node with the embedded NATS server, stored in /data.
# --nats-addr= (empty) keeps NATS in-process: no NATS port at all, so nothing
# unauthenticated can be exposed; publish with POST /publish (the token is in
# the log and in /data/publish.token). To let NATS clients in, run with
# --nats-addr=0.0.0.0:4222 and -p 4222:4222: a non-loopback embedded server
# requires the credentials jetsse generates into /data on first start.
# --allow-anonymous: anyone who reaches :8080 may subscribe (there is no
# identity provider here); use --auth=jwt with --jwt-* flags in production.
CMD ["serve", "--http-addr", "0.0.0.0:8080", "--data-dir", "/data", "--nats-addr=", "--allow-anonymous"]
