// oxlint-disable-next-line import/no-unassigned-import -- inversify wants the polyfill loaded first
import "reflect-metadata"
import { once } from "node:events"
import type { Server } from "node:http"
import type { Container } from "inversify"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { CredentialDelivery, wipeLeftoverCredentials, type Instances, type McpServers } from "@dtma/domain"
import { ConfigError, DEFAULT_HEARTBEAT_INTERVAL_MS } from "./composition/config.ts"
import { adaptersModule } from "./composition/adaptersModule.ts"
import { makeFileAgentAccess } from "./composition/agentAccess.ts"
import { answerClientErrors } from "./server/answerClientErrors.ts"
import { buildContainer, heartbeatEnabled, stopUseCases } from "./composition/container.ts"
import { createApp } from "./server/createApp.ts"
import { shutdownHooksOf } from "./server/drainGate.ts"
import { checkCredentialStore } from "./composition/credentialsStartup.ts"
import { startHeartbeatLoop, type HeartbeatLoop } from "./composition/heartbeatLoop.ts"
import { startIdleMemoryTrim } from "./composition/idleMemoryTrim.ts"
import { listen } from "./composition/listen.ts"
import { loadConfig } from "./composition/loadConfig.ts"
import { createLogger, type Logger } from "./composition/logger.ts"
import { bound, Tokens } from "./composition/tokens.ts"
import { readTlsMaterial } from "./composition/tlsSettings.ts"
import { endpointForLog, startTracing, tracingSettingsOf, type Tracing } from "./composition/tracing.ts"

/** How long calls in flight get to finish after a shutdown signal. */
const SHUTDOWN_GRACE_MS = 10_000
/** How long ended connections then get to flush before they are cut. */
const CLOSE_GRACE_MS = 1_000

const orExit = <A>(load: () => A): A => {
  try {
    return load()
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : `Configuration error: ${String(error)}`
    process.stderr.write(`${JSON.stringify({ level: "fatal", service: "dtma", msg: message })}\n`)
    process.exit(1)
  }
}

const reconcile = async (instances: Instances, logger: Logger): Promise<void> => {
  const exit = await Effect.runPromiseExit(instances.reconcile())
  if (Exit.isSuccess(exit)) logger.info({ adopted: exit.value.adopted, removed: exit.value.removed }, "reconciled managed instances")
  else logger.error({ cause: Cause.pretty(exit.cause) }, "could not reconcile managed instances at start-up; serving anyway")
}

// After reconcile: it adopts the MCP server containers that survived it.
const adopt = async (mcpServers: McpServers, logger: Logger): Promise<void> => {
  const exit = await Effect.runPromiseExit(mcpServers.adopt())
  if (Exit.isSuccess(exit)) logger.info({ adopted: exit.value }, "supervising MCP servers found at start-up")
  else logger.error({ cause: Cause.pretty(exit.cause) }, "could not adopt MCP servers at start-up; serving anyway")
}

/**
 * Refuses new requests (503) while calls in flight finish (bounded), then ends the MCP client
 * sessions (their event streams), closes the server, stops the heartbeat and MCP supervision, and
 * sends the spans still queued (bounded).
 * Containers keep running, for the next DTMA to adopt.
 */
const shutdown = async (options: {
  server: Server
  app: object
  loop: HeartbeatLoop | null
  container: Container
  tracing: Tracing
  logger: Logger
  signal: string
}): Promise<void> => {
  const { server, app, loop, container, tracing, logger, signal } = options
  const hooks = shutdownHooksOf(app)
  logger.info(
    { signal, calls: hooks?.gate.inFlight() },
    "shutting down: new requests are refused while calls in flight finish; managed containers keep running",
  )
  const left = (await hooks?.gate.drain(SHUTDOWN_GRACE_MS)) ?? 0
  if (left > 0) logger.warn({ calls: left }, `calls still in flight after ${SHUTDOWN_GRACE_MS} ms are cut`)
  hooks?.closeSessions()
  const closed = once(server, "close")
  server.close()
  // Connections go idle as their last answers are sent: close each then, the rest after the grace.
  const idle = setInterval(() => server.closeIdleConnections(), 50)
  const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS)
  force.unref()
  await Promise.all([closed, loop?.stop()])
  clearInterval(idle)
  clearTimeout(force)
  await stopUseCases(container)
  await tracing.shutdown()
  logger.info("stopped")
}

const main = async (): Promise<void> => {
  const config = orExit(loadConfig)
  const tracingSettings = orExit(() => tracingSettingsOf(process.env))
  const logger = createLogger({ level: config.logLevel })
  for (const warning of config.warnings) logger.warn(warning)
  if (config.generatedTokenFile !== null) {
    logger.warn({ path: config.generatedTokenFile }, "no inbound token configured: generated one; callers must present the token kept in this file")
  }
  const agentAccess = await Effect.runPromiseExit(makeFileAgentAccess(config))
  if (Exit.isFailure(agentAccess)) {
    logger.fatal({ cause: Cause.pretty(agentAccess.cause) }, "cannot read the agent token keys or revocations in the state directory; not starting")
    process.exit(1)
  }
  const container = buildContainer({ config, logger, infrastructure: adaptersModule(config, agentAccess.value) })
  await checkCredentialStore(config.credentials, logger)
  await reconcile(bound(container, Tokens.Instances), logger)
  const mcpServers = bound(container, Tokens.McpServers)
  await adopt(mcpServers, logger)
  const wiped = await Effect.runPromise(wipeLeftoverCredentials(bound(container, CredentialDelivery), (name) => mcpServers.supervises(name)))
  if (wiped.length > 0) logger.info({ wiped }, "wiped credentials of servers that are gone")

  const tls =
    config.tls == null
      ? null
      : readTlsMaterial(config.tls, (problem) => {
          throw new ConfigError({ problem })
        })
  const tracing = await startTracing(tracingSettings)
  if (tracingSettings !== null) logger.info({ endpoint: endpointForLog(tracingSettings) }, "traces go to the OTLP endpoint")
  const app = createApp(container, { tracer: tracing.tracer })
  const server = listen(app, { port: config.port, host: config.host, tls })
  answerClientErrors(server)
  await once(server, "listening")
  logger.info({ host: config.host, port: config.port, https: tls !== null }, "DTMA listening")
  startIdleMemoryTrim(logger, () => shutdownHooksOf(app)?.gate.begun() ?? 0)

  let loop: HeartbeatLoop | null = null
  if (heartbeatEnabled(config)) {
    const interval = `${config.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS} millis` as const
    loop = startHeartbeatLoop({ heartbeat: bound(container, Tokens.Heartbeat), logger, interval, lifetime: bound(container, Tokens.Lifetime) })
  } else logger.info("no AGENTOPIA_API_BASE_URL or outbound token: heartbeat is off")

  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    shutdown({ server, app, loop, container, tracing, logger, signal }).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ error: String(error) }, "shutdown failed")
        process.exit(1)
      },
    )
  }
  process.on("SIGTERM", onSignal)
  process.on("SIGINT", onSignal)
}

await main()
