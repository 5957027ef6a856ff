# syntax=docker/dockerfile:1
# AI-SOC container image: docs/deploy.md says how to build and run it.
#
#   docker build -t aisoc:0.1.0 .
#   docker run --read-only --tmpfs /tmp -v aisoc-data:/data -p 8080:8080 aisoc:0.1.0
#
# Two stages on the same pinned Node 20 slim base: the build stage installs
# every dependency, compiles (npm run build: the console → web/dist/, the
# sources → dist/ with the workers bundled) and prunes the development
# dependencies; the runtime stage copies what the npm package ships (bin/,
# dist/, content/, models/, web/dist/, package.json's "files") with the
# production node_modules, and runs it as an unprivileged user. Nothing secret is built in: keys,
# passwords and URLs with passwords come at run time (environment, or files
# named by AISOC_*_FILE, e.g. Docker secrets), and .dockerignore keeps .env
# files, secrets and data directories out of the build context.

FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
ENV CI=1 NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# Dependencies first, in a layer of their own that survives source changes.
# --ignore-scripts: the one install script in the tree (esbuild's) only checks
# the binary its platform package already brought; `prepare` is what `npm run build` does below.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build \
 && npm prune --omit=dev \
 && npm cache clean --force

FROM node:20.20.2-bookworm-slim AS runtime
# The data directory is the only place the server writes (the embedded
# database, keys, caches, followers' positions); /tmp is the other writable
# path (mount a tmpfs there with a read-only root filesystem).
# AISOC_RUN=dist: run the compiled build, never the sources (tsx is a development dependency).
ENV NODE_ENV=production \
    AISOC_RUN=dist \
    AISOC_DATA_DIR=/data \
    XDG_CACHE_HOME=/data/.cache \
    HOME=/tmp
RUN groupadd --system --gid 10001 aisoc \
 && useradd --system --uid 10001 --gid aisoc --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin aisoc \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0700 /data
# The application is owned by root and read-only for the user that runs it.
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json /app/package-lock.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/bin ./bin
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/content ./content
COPY --from=build --chown=root:root /app/models ./models
COPY --from=build --chown=root:root /app/web/dist ./web/dist
COPY --chown=root:root deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs
COPY --chown=root:root --chmod=0755 deploy/docker/aisoc.sh /usr/local/bin/aisoc
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080
# /health answers without a key. Node, not curl: the slim image has no curl.
# A process on another port (a worker's --port) sets AISOC_HEALTH_URL.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.mjs"]
ENTRYPOINT ["/usr/local/bin/aisoc"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
