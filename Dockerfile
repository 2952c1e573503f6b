# Tickwire server image: a static, non-root server binary plus the
# browser client. Build from the repository root:
#
#   docker build -t tickwire/server .
#   docker run --rm -p 7777:7777/tcp -p 7777:7777/udp tickwire/server
#
# The server listens on one port number for TCP (HTTP, WebSocket, lobby,
# metrics) and UDP (HTTP/3 + WebTransport): publish both.

# 1. The server and the bot swarm: static (no cgo), stripped.
FROM golang:1.26-bookworm AS server
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/server ./cmd/server \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/bots ./cmd/bots

# 2. The browser client: the Ebiten game as WebAssembly, and Go's loader.
FROM golang:1.26-bookworm AS web
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN mkdir -p /out/web \
 && GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o /out/web/client.wasm ./cmd/client \
 && cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" /out/web/ \
 && go run ./cmd/webcompress /out/web

# 3. The image: no shell, no package manager, user 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=server /out/server /tickwire/server
# The bot swarm, for load tests from a cluster (deploy/swarm-job.yaml).
COPY --from=server /out/bots /tickwire/bots
COPY --from=web /out/web /tickwire/web
# Listen on every interface at 7777; serve the web client; drain for 30 s
# on SIGTERM (keep terminationGracePeriodSeconds above it).
ENV TICKWIRE_ADDR=:7777 \
    TICKWIRE_WEB=/tickwire/web \
    TICKWIRE_ACME_CACHE=/tmp/acme \
    TICKWIRE_DRAIN_TIMEOUT=30s
EXPOSE 7777/tcp 7777/udp
USER nonroot:nonroot
ENTRYPOINT ["/tickwire/server"]
