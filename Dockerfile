# Parley's container image. The build stage runs what CI runs (`npm ci`, then `npm run build`: `tsc -b` and the
# console's Vite build); the runtime stage keeps the compiled output and production dependencies only, and
# runs as a non-root user.
#   docker build -t parley .          (compose.yaml builds the same file)

FROM node:20-bookworm-slim AS build
# Build tools for the native modules (better-sqlite3, argon2) when no prebuilt binary fits.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/client/package.json packages/client/
COPY packages/server/package.json packages/server/
COPY packages/console/package.json packages/console/
RUN npm ci
COPY . .
RUN npm run build
# What the runtime needs: compiled output, the CLI, production dependencies.
RUN npm prune --omit=dev \
  && rm -rf bench scripts .ci packages/*/src packages/*/test packages/server/dist/test \
  && find packages -name '*.tsbuildinfo' -delete

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PARLEY_DATA_DIR=/var/lib/parley \
    PARLEY_HOST=0.0.0.0 \
    PARLEY_PORT=8443
RUN groupadd --system parley \
  && useradd --system --gid parley --home-dir /var/lib/parley --no-create-home --shell /usr/sbin/nologin parley \
  && mkdir -p /var/lib/parley \
  && chown parley:parley /var/lib/parley \
  && chmod 0700 /var/lib/parley
WORKDIR /opt/parley
# Owned by root and read-only to Parley: only the data volume is writable.
COPY --from=build /src /opt/parley
USER parley
# The database (SQLite), master key, erasure register, audit anchors and self-signed certificate.
VOLUME ["/var/lib/parley"]
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "deploy/healthcheck.js"]
# node directly, not npm: Parley is PID 1 and handles SIGTERM (drain) and SIGHUP (TLS reload) itself; it starts
# no child processes, so it needs no init to reap them.
ENTRYPOINT ["node", "packages/server/bin/parley.js"]
CMD ["start"]
