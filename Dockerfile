# Gateway and worker image. Node 20: uWebSockets.js ships native binaries for Node <= 20 only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# npm install rather than npm ci: see scripts/lib.sh (optional platform packages missing from the lockfile).
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY protocol protocol
COPY src src
COPY workers workers
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
# The background population (VIGIL_BIOMETRIC_BACKGROUND=builtin), read by the training threads.
COPY assets assets
USER node
EXPOSE 8080
CMD ["node", "dist/src/main.js"]
