# otarun for CI runners and Kubernetes CronJobs (docs/install.md): Debian 12 slim with the .deb
# built from this tree, curl and jq for the CI recipes' sticky plan comment, and a non-root user.
#   docker build -t otarun .
#   docker run --rm -v "$PWD:/work" -w /work otarun plan rollouts/*.lua
FROM debian:12-slim AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake pkg-config file dpkg-dev liblua5.4-dev lua-cjson-dev \
      libcurl4-openssl-dev libssl-dev libsqlite3-dev libmicrohttpd-dev >/dev/null
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release >/dev/null \
 && cmake --build /build -j"$(nproc)" --target otarun otarun_staged \
 && cd /build && cpack -G DEB >/dev/null && mv /build/otarun_*.deb /otarun.deb

FROM debian:12-slim
COPY --from=build /otarun.deb /tmp/otarun.deb
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      /tmp/otarun.deb ca-certificates curl jq >/dev/null \
 && rm -rf /var/lib/apt/lists/* /tmp/otarun.deb \
 && useradd --create-home --uid 10001 otarun
USER otarun
WORKDIR /home/otarun
ENTRYPOINT ["otarun"]
CMD ["--help"]
