# syntax=docker/dockerfile:1
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/jetsse ./cmd/jetsse

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/jetsse /usr/local/bin/jetsse
USER nonroot
EXPOSE 8080 4222
ENTRYPOINT ["/usr/local/bin/jetsse"]
CMD ["serve", "--http-addr", ":8080", "--nats-addr", "0.0.0.0:4222", "--data-dir", "/data"]
