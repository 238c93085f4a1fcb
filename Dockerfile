# mlb: one image for the three containers (controller, reloader sidecar, haproxy).
#   docker build -t mlb .            (tests: --build-arg BASE_IMAGE=localhost/...)
#   controller:  docker run --net=host -v mlb:/run/mlb mlb mlb-controller --marathon http://marathon:8080
#   reloader:    docker run --net=host --pid=host -v mlb:/run/mlb mlb mlb-reloader watch
#   haproxy:     docker run --net=host --pid=host -v mlb:/run/mlb mlb mlb-reloader haproxy
# or, as marathon-lb's image, all three in one container under a small supervisor:
#                docker run --net=host --pid=host mlb sse -m http://marathon:8080 --group external
# Every flag can be given as MLB_<FLAG> (MLB_MARATHON, MLB_GROUP, MLB_STATE_DIR, ...).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates cmake ninja-build g++ python3 nlohmann-json3-dev libkainjow-mustache-dev \
      libsimdjson-dev libssl-dev libgtest-dev libgmock-dev libcpprest-dev libboost-dev \
      libboost-filesystem-dev prometheus-cpp-dev libcivetweb-dev >/dev/null
WORKDIR /src
COPY . .
# The same build as CI (scripts/test.sh builds this tree the same way and tests it);
# only the binaries the image ships.
RUN rm -rf build && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
 && cmake --build build --target mlb mlb-deploy mlb-run mlb-controller mlb-reloader \
 && strip build/cli/mlb build/cli/mlb-deploy build/cli/mlb-run build/controller/mlb-controller \
      build/reloader/mlb-reloader
# The runtime packages are the ones that own the binaries' shared libraries, so the same
# file builds on bookworm (HAProxy 2.6) and trixie (HAProxy 3.0) whatever the sonames.
RUN ldd build/cli/mlb build/cli/mlb-deploy build/cli/mlb-run build/controller/mlb-controller \
      build/reloader/mlb-reloader \
    | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u \
    | while read -r lib; do dpkg -S "$lib" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null \
        || dpkg -S "/usr$lib"; done \
    | cut -d: -f1 | sort -u > /src/runtime-packages && cat /src/runtime-packages

FROM ${BASE_IMAGE}
COPY --from=build /src/runtime-packages /usr/share/mlb/runtime-packages
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates openssl haproxy libcap2-bin $(cat /usr/share/mlb/runtime-packages) >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 # HAProxy binds :80/:443 as the non-root user.
 && setcap cap_net_bind_service=+ep /usr/sbin/haproxy \
 && useradd --system --uid 10001 --home-dir /run/mlb --shell /usr/sbin/nologin mlb \
 && mkdir -p /run/mlb /etc/mlb && chown mlb:mlb /run/mlb /etc/mlb
COPY --from=build /src/build/cli/mlb /src/build/cli/mlb-deploy /src/build/cli/mlb-run \
     /src/build/controller/mlb-controller \
     /src/build/reloader/mlb-reloader /usr/local/bin/
COPY templates/ /usr/share/mlb/templates/
RUN ! ldd /usr/local/bin/mlb* | grep 'not found'
COPY e2e/container/entrypoint.sh /usr/local/bin/mlb-entrypoint
USER mlb
# MLB_HAPROXY_LOG: HAProxy's own log lines (requests, alerts) on the container's output.
ENV MLB_STATE_DIR=/run/mlb \
    MLB_SSL_CERTS=/etc/mlb/default.pem \
    MLB_HAPROXY_LOG=stdout
VOLUME /run/mlb
EXPOSE 80 443 9090 9091 9102 9103
ENTRYPOINT ["/usr/local/bin/mlb-entrypoint"]
# marathon-lb's default: `sse --health-check --group external` (see mlb-run --help).
CMD ["sse", "--health-check", "--group", "external"]
