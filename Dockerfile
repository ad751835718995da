# xmpp-oauth-proxy container image: a static Go binary on distroless, run as non-root.
#
#   docker build -t xmpp-oauth-proxy --build-arg VERSION=$(git describe --always --dirty) .
#   docker run -v $PWD/config.yaml:/etc/xmpp-oauth-proxy/config.yaml:ro \
#     -p 5222:5222 -p 5223:5223 xmpp-oauth-proxy
#
# internal/composetest runs the same go build command as below and checks that the
# result is static, so the build stays reproducible without a Docker engine.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
# Cross-compiled on the build platform (buildx sets TARGETOS/TARGETARCH; empty means the
# builder's own). CGO off: the final image has no libc.
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/xmpp-oauth-proxy ./cmd/xmpp-oauth-proxy

# No shell, no package manager, no libc: nothing here may RUN.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/xmpp-oauth-proxy /xmpp-oauth-proxy
# 65532 is distroless's "nonroot". Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# 5222 STARTTLS, 5223 Direct TLS (XEP-0368), 9090 metrics/healthz/readyz when
# metrics.address is set. Ports below 1024 would need CAP_NET_BIND_SERVICE.
EXPOSE 5222 5223 5281 9090
ENTRYPOINT ["/xmpp-oauth-proxy"]
CMD ["serve", "-c", "/etc/xmpp-oauth-proxy/config.yaml"]
