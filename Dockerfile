# hubspot-sync: HubSpot contacts to PostgreSQL leads and NATS events.
# Build: docker build -t hubspot-sync .
# Run:   docker run -e DATABASE_URL=... -e ENCRYPTION_KEY=... -e API_TOKEN=... -p 3000:3000 hubspot-sync

# Compiles TypeScript with every dependency installed.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build

# Production dependencies only.
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json openapi.yaml ./
COPY sql ./sql
COPY bin ./bin
# DATA_DIR holds the embedded PostgreSQL and its generated key when DATABASE_URL is unset.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# Exec form: node is PID 1 and receives SIGTERM itself, so the graceful shutdown runs.
# The V8 limits keep a backfill near 100 MiB resident (104 MiB at 100,000 contacts, 214 MiB
# without them): V8 otherwise lets garbage pile up far past the live heap (BENCHMARKS.md).
CMD ["node", "--max-old-space-size=256", "--max-semi-space-size=2", "dist/src/cli.js", "serve"]
