# syntax=docker/dockerfile:1
# ferrotel container image: a drop-in for the otelcol / otelcol-contrib images.
#   docker build -t ferrotel .
#   docker run -p 4317:4317 -p 4318:4318 -p 8888:8888 -p 13133:13133 ferrotel
#   docker run -v $PWD/config.yaml:/etc/otelcol/config.yaml ferrotel --config=/etc/otelcol/config.yaml
# Like the otelcol images: ENTRYPOINT is the binary, CMD is `--config=<baked default>`, so a
# compose `command: ["--config=/etc/x.yaml"]` (or `--config x --set ...`) replaces CMD unchanged.
# The default config sits where otelcol-contrib's image keeps it (the stack's components are
# contrib ones), so a compose file that mounts its config at /etc/otelcol-contrib/config.yaml
# without a `command:` works with only the image changed; /etc/ferrotel/config.yaml is a copy.

# ---- build: release binary (glibc) and the health probe -------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
# protoc is not needed: the OTLP types come pre-generated from the opentelemetry-proto crate.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ferrotel --bin ferrotel \
 && install -D -m 0755 target/release/ferrotel /out/ferrotel
# A dependency-free static probe for HEALTHCHECK (the final image has no shell and no curl).
RUN rustc --edition 2021 -C opt-level=s -C strip=symbols -C target-feature=+crt-static \
      -o /out/healthcheck deploy/healthcheck/probe.rs
RUN install -D -m 0644 config/default.yaml /out/etc/ferrotel/config.yaml \
 && install -D -m 0644 config/default.yaml /out/etc/otelcol-contrib/config.yaml \
 && install -d -m 0750 /out/var/lib/ferrotel

# ---- runtime: distroless (glibc, CA certificates, tzdata), non-root (uid 65532) ---------------------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ferrotel /ferrotel
COPY --from=build /out/healthcheck /healthcheck
COPY --from=build /out/etc/ /etc/
# State (file_storage: filelog checkpoints, persistent queues), owned by the runtime user so a
# named volume mounted here starts out writable.
COPY --from=build --chown=65532:65532 /out/var/lib/ferrotel /var/lib/ferrotel
USER 65532:65532
# OTLP gRPC, OTLP HTTP, self-metrics, prometheus exporter, health_check
EXPOSE 4317 4318 8888 8889 13133
# Probes health_check on 127.0.0.1:13133 (the default config listens on 0.0.0.0:13133). A config
# with health_check elsewhere: override with `healthcheck: test: ["CMD", "/healthcheck", "127.0.0.1:PORT"]`.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/healthcheck", "127.0.0.1:13133"]
ENTRYPOINT ["/ferrotel"]
CMD ["--config=/etc/otelcol-contrib/config.yaml"]
