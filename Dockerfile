# syntax=docker/dockerfile:1
#
# cachenode image: static binaries on distroless (no shell, no package manager), run as the
# distroless "nonroot" user (65532): the node, and `cachetier`, which prints the ring
# (`kubectl exec cache-0 -- cachetier --srv _redis._tcp.cache.<ns>.svc.cluster.local`).
# Build with `make image` (docker or podman), or:
#
#	docker build -t cachenode:dev .
#
# The entrypoint listens on every interface (--bind 0.0.0.0, port 7000) and serves /metrics,
# /healthz and /readyz on :9121. Arguments after the image name are appended to it, and a flag
# given twice takes its last value: `docker run cachenode:dev --port 7001 --maxmemory 1gb`.
# Listening on every interface: set --requirepass where the network is not private.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo), reproducible paths, no symbol tables. Build info (module
# versions) stays: `cachenode --version` reports the Go version.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/cachenode ./cmd/cachetier

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cachenode /out/cachetier /usr/local/bin/
USER 65532:65532
EXPOSE 7000 9121
ENTRYPOINT ["/usr/local/bin/cachenode", "--bind", "0.0.0.0", "--metrics-addr", ":9121"]
