# syntax=docker/dockerfile:1

# Every stage on the same Node.js LTS, the one CI runs the suite on (README: Requirements).
ARG NODE_IMAGE=node:24-bookworm-slim

# The full dependency tree (Nest CLI, TypeScript, SWC), for compiling and for the seeder.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./

FROM deps AS build
COPY src ./src
COPY web ./web
RUN npm run build

# The sandbox seeder runs TypeScript directly, so it keeps the dev dependencies; never shipped.
FROM deps AS sandbox-tools
COPY scripts ./scripts
CMD ["node", "-r", "@swc-node/register", "scripts/sandbox/seed.ts"]

# Production dependencies only, installed apart so no compiler or test tool reaches the image.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    RUNBOOKD_STATE_DIR=/var/lib/runbookd \
    RUNBOOKD_RUNBOOKS_DIR=/app/runbooks
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY runbooks ./runbooks
# The state dir holds PGlite data (when DATABASE_URL is unset) and the generated dev key.
RUN mkdir -p /var/lib/runbookd && chown node:node /var/lib/runbookd
USER node
VOLUME ["/var/lib/runbookd"]
EXPOSE 3000
# Ready means PostgreSQL and Redis answer (a worker-only container has no HTTP: override this there).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
