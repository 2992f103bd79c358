# syntax=docker/dockerfile:1

# geocloak container image. Needs BuildKit (cache mounts; DOCKER_BUILDKIT=1 on old engines).
#   docker build -t geocloak .
#   docker run --rm -e GEOCLOAK_PSEUDONYM_KEY -v "$PWD/my.yaml:/etc/geocloak/geocloak.yaml:ro" geocloak
# The binary uses cgo (H3 is C), so it is built against glibc and runs on Debian.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1

# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

# The context includes .git (see .dockerignore): go build stamps the VCS revision and
# commit time into the binary (geocloak version, geocloak_build_info). Where the context
# has no .git directory (a source archive, a git worktree), pass them instead:
#   docker build --build-arg GEOCLOAK_REVISION="$(git rev-parse HEAD)" \
#     --build-arg GEOCLOAK_VCS_TIME="$(git log -1 --format=%cI)" --build-arg GEOCLOAK_VERSION=v1.2.3 .
ARG GEOCLOAK_VERSION=
ARG GEOCLOAK_REVISION=
ARG GEOCLOAK_VCS_TIME=
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -buildvcs=auto -trimpath \
      -ldflags="-s -w -X main.buildVersion=${GEOCLOAK_VERSION} -X main.buildRevision=${GEOCLOAK_REVISION} -X main.buildTime=${GEOCLOAK_VCS_TIME}" \
      -o /out/geocloak ./cmd/geocloak \
 && /out/geocloak version

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 geocloak \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin geocloak \
 && mkdir -p /etc/geocloak
COPY --from=build /out/geocloak /usr/local/bin/geocloak
USER 10001:10001
# Operations listener (/metrics, /healthz, /readyz). The config must set
# ops.listen: 0.0.0.0:9464 for it to be reachable from outside the container.
EXPOSE 9464
# No HEALTHCHECK: the image has no HTTP client. Compose checks /readyz with bash.
ENTRYPOINT ["/usr/local/bin/geocloak"]
CMD ["run", "--config", "/etc/geocloak/geocloak.yaml"]
