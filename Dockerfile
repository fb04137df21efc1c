# stackplan's container image, for any CI that runs containers:
#
#   docker run --rm -v "$PWD:/repo" -w /repo IMAGE plan
#
# The full build (needs the internet: the rust and debian images, the crates):
#
#   docker build --build-arg REVISION="$(git rev-parse --short=9 HEAD)" -t stackplan .
#
# Without the internet, from a stackplan binary built by cargo and a local base image (what
# the e2e suite does; scripts/image-base.sh makes the base from the machine's own files):
# a named build context replaces the stage of the same name, so neither the Rust stage nor
# the debian stage runs.
#
#   base=localhost:5000/stackplan/runtime-base:local
#   docker buildx build --build-context binary=DIR_WITH_THE_BINARY \
#     --build-context runtime-base=docker-image://$base --build-arg RUST_IMAGE=$base \
#     -t stackplan .
#
# See docs/install.md.

# The images of the full build. BuildKit reads the metadata of every stage's base even when
# a named context replaces the stage, so the local path points RUST_IMAGE at its own base.
ARG RUST_IMAGE=rust:1.89-slim-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---- build: the release binary ----------------------------------------------------------
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# The commit for `stackplan --version` (.git is not in the build context).
ARG REVISION=
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    STACKPLAN_BUILD_REVISION="$REVISION" CARGO_PROFILE_DIST_STRIP=symbols \
      cargo build --profile dist --locked \
    && install -m 0755 target/dist/stackplan /usr/local/bin/stackplan

# ---- binary: just the binary (a named context `binary` with a `stackplan` file replaces it)
FROM scratch AS binary
COPY --from=build /usr/local/bin/stackplan /stackplan

# ---- runtime-base: git and CA certificates on a minimal Debian ---------------------------
FROM ${DEBIAN_IMAGE} AS runtime-base
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# ---- the image ---------------------------------------------------------------------------
FROM runtime-base
COPY --from=binary /stackplan /usr/local/bin/stackplan
# The mounted checkout belongs to the CI user, not to the container's root: without this git
# refuses it ("dubious ownership") and stackplan cannot read the change set.
RUN ["git", "config", "--system", "--add", "safe.directory", "*"]
LABEL org.opencontainers.image.title="stackplan" \
      org.opencontainers.image.description="Plan builds of a stack of Docker images and hand them to BuildKit" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /repo
ENTRYPOINT ["stackplan"]
