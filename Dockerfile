# syntax=docker/dockerfile:1
# Colony MQTT broker image.  Build: docker build -t colony:0.1.0 .
# The Helm chart in helm/colony runs this image (image.repository "colony",
# tag = chart appVersion).

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build \
      libcaf-dev libboost-dev libboost-program-options-dev libboost-system-dev \
      libssl-dev nlohmann-json3-dev prometheus-cpp-dev librocksdb-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOLONY_TESTS=OFF \
 && cmake --build build --target colony \
 && strip build/server/colony

FROM debian:12
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcaf-core0.17 libcaf-io0.17 libboost-program-options1.74.0 libssl3 \
      libprometheus-cpp-core1.0 librocksdb7.8 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 colony \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin colony \
 && mkdir -p /data \
 && chown 10001:10001 /data
COPY --from=build /src/build/server/colony /usr/local/bin/colony
USER 10001:10001
WORKDIR /data
# MQTT, MQTT over TLS, WebSocket, WebSocket over TLS, HTTP (metrics/health/API)
EXPOSE 1883 8883 8083 8084 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD curl --fail --silent --max-time 2 http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/colony"]
# Without a config file the listeners default to loopback; bind all interfaces
# in a container.  The Helm chart replaces these with --config.
CMD ["--host", "0.0.0.0", "--http-host", "0.0.0.0", "--data-dir", "/data"]
