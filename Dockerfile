# syntax=docker/dockerfile:1
# Fledge image: Node 24 LTS, production dependencies only, non-root. It runs the operator
# (`run`, the default) and the load tester (`loadtester`; bash is there for allow-listed commands).
#   docker build -t ghcr.io/fledge-dev/fledge:$(node -p 'require("./package.json").version') .

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The base image already is Node 24: skip install scripts (the npm 'node' package's download).
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:24-bookworm-slim AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund --ignore-scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
USER 10001:10001
# Operator: telemetry on 8080. Load tester: webhook API on 8080, telemetry on 8081.
EXPOSE 8080 8081
# V8 flags: src/cli/node-flags.ts says why (a unit test keeps the two the same).
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/cli/main.js"]
CMD ["run"]
