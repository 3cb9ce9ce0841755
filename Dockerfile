# syntax=docker/dockerfile:1
# The operator image: a Debian 12 (bookworm) build stage, a bookworm-slim runtime
# with the shared libraries only, running as UID 65532.
#   docker build -t ghcr.io/redis-upgrade-operator/redis-upgrade-operator:0.1.0 .
# The Helm chart passes `run --metrics-bind-address=... ...` as the container's
# args, so the entrypoint is the bare binary (`run` is only the default command).

FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libcpprest-dev libssl-dev libboost-dev libyaml-cpp-dev nlohmann-json3-dev \
      prometheus-cpp-dev libcivetweb-dev libhiredis-dev \
      libspdlog-dev libfmt-dev libcli11-dev libhowardhinnant-date-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the binary needs: tests are off (no gtest), warnings do not fail an
# image build (the project's CI builds with -Werror).
COPY CMakeLists.txt ./
COPY src ./src
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DRUO_WERROR=OFF \
    && ninja -C build redis-upgrade-operator \
    && strip build/src/cmd/redis-upgrade-operator

FROM debian:bookworm-slim AS runtime
# Runtime libraries only (the -dev packages' shared objects), tzdata for
# maintenance windows in IANA time zones, CA certificates for TLS.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcpprest2.10 libssl3 libyaml-cpp0.7 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 \
      libcivetweb1 libhiredis0.14 libspdlog1.10 libfmt9 libdate-tz3 tzdata ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/src/cmd/redis-upgrade-operator /usr/local/bin/redis-upgrade-operator
# Fails the build if a shared library is missing.
RUN ["/usr/local/bin/redis-upgrade-operator", "version"]
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/redis-upgrade-operator"]
CMD ["run"]
