import * as Redacted from "effect/Redacted"
import { recipeOf, type InstanceKind, type InstanceSpec, type PortRequest } from "@dtma/domain"
import { containerNameFor } from "./containerName.ts"
import type { CreateContainerBody } from "./DockerApi.ts"
import { DEFAULT_SCOPE, encodeLabels } from "./labels.ts"

/** Limits every MCP server runs under (standard tools keep Docker's defaults). */
export const MCP_SERVER_LIMITS = {
  memoryBytes: 512 * 1024 * 1024,
  nanoCpus: 1_000_000_000,
  pids: 256,
  /** The only writable place: the root filesystem is read-only. */
  tmpfs: { "/tmp": "rw,noexec,nosuid,size=64m" },
  /**
   * Nothing: Docker's log files are on disk, and a server's output may hold what it must not keep
   * there (a stdio server's stdout carries its tool results, tokens it read among them). The DTMA
   * keeps a bounded tail of it in memory instead (`DockerOutputCapture`), which is what
   * `GET /mcp-servers/:name/logs` reads.
   */
  log: { Type: "none", Config: {} },
} as const

/**
 * Docker's restart policy by kind. Standard tools keep the legacy `unless-stopped`; MCP servers get
 * none, because the DTMA restarts them itself (with backoff and a circuit breaker) and a restart
 * Docker does on its own would race it.
 */
export const restartPolicyFor = (kind: InstanceKind): "unless-stopped" | "no" => (kind === "mcp_server" ? "no" : "unless-stopped")

const LOOPBACK = "127.0.0.1"

/**
 * The ports to publish. A stdio MCP server has no network at all; a network MCP server is reachable
 * on loopback only, its own MCP port always included (on a free host port unless a request covers it).
 */
export const portsToPublish = (spec: InstanceSpec): ReadonlyArray<PortRequest> => {
  if (spec.kind !== "mcp_server") return spec.ports
  if (spec.mcp?.transport === "stdio") return []
  const ports = spec.ports.map((p) => ({ ...p, hostIp: LOOPBACK }))
  const mcpPort = spec.mcp?.port ?? null
  const covered = ports.some((p) => p.containerPort === mcpPort && p.protocol === "tcp")
  if (mcpPort === null || covered) return ports
  return [...ports, { containerPort: mcpPort, protocol: "tcp", hostIp: LOOPBACK, hostPort: null }]
}

const hardeningFor = (spec: InstanceSpec): Partial<CreateContainerBody["HostConfig"]> => {
  if (spec.kind !== "mcp_server") return {}
  return {
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    ReadonlyRootfs: true,
    Tmpfs: { ...MCP_SERVER_LIMITS.tmpfs },
    Memory: MCP_SERVER_LIMITS.memoryBytes,
    NanoCpus: MCP_SERVER_LIMITS.nanoCpus,
    PidsLimit: MCP_SERVER_LIMITS.pids,
    LogConfig: { Type: MCP_SERVER_LIMITS.log.Type, Config: { ...MCP_SERVER_LIMITS.log.Config } },
    ...(spec.mcp?.transport === "stdio" ? { NetworkMode: "none" } : {}),
  }
}

/** The caller's overrides, over the kind's defaults: limits replace the hardened ones, tmpfs mounts add to /tmp. */
const overridesFor = (spec: InstanceSpec, hardened: Partial<CreateContainerBody["HostConfig"]>) => {
  const o = spec.overrides
  if (o === undefined) return { top: {}, host: {} }
  const tmpfs = { ...hardened.Tmpfs, ...o.tmpfs }
  return {
    top: {
      ...(o.entrypoint === null ? {} : { Entrypoint: [...o.entrypoint] }),
      ...(o.workingDir === null ? {} : { WorkingDir: o.workingDir }),
      ...(o.user === null ? {} : { User: o.user }),
    },
    host: {
      ...(o.memoryBytes === null ? {} : { Memory: o.memoryBytes }),
      ...(o.nanoCpus === null ? {} : { NanoCpus: o.nanoCpus }),
      ...(o.pidsLimit === null ? {} : { PidsLimit: o.pidsLimit }),
      ...(Object.keys(tmpfs).length === 0 ? {} : { Tmpfs: tmpfs }),
    },
  }
}

/**
 * The Docker create body for an instance, named after it (`containerNameFor`): the only place
 * environment values are unwrapped.
 */
export const toCreateBody = (spec: InstanceSpec, scope: string = DEFAULT_SCOPE): CreateContainerBody => {
  const exposed: Record<string, Record<string, never>> = {}
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {}
  for (const p of portsToPublish(spec)) {
    const key = `${p.containerPort}/${p.protocol}`
    exposed[key] = {}
    // An empty HostPort asks Docker for a free port.
    const binding = { HostIp: p.hostIp, HostPort: p.hostPort === null ? "" : String(p.hostPort) }
    ;(bindings[key] ??= []).push(binding)
  }
  // A stdio MCP server reads requests from stdin: keep it open across attaches or it exits at once.
  const stdio = spec.mcp?.transport === "stdio" ? { OpenStdin: true, StdinOnce: false, Tty: false } : {}
  const hardened = hardeningFor(spec)
  const overrides = overridesFor(spec, hardened)
  return {
    name: containerNameFor(spec.name),
    Image: spec.image,
    Env: spec.env.map((e) => `${e.name}=${Redacted.value(e.value)}`),
    // The DTMA's own labels come last: a caller's label can never change what marks a container as ours.
    Labels: {
      ...spec.overrides?.labels,
      ...encodeLabels(
        {
          name: spec.name,
          accountToolInstanceId: spec.accountToolInstanceId,
          kind: spec.kind,
          image: spec.image,
          mcp: spec.mcp,
          envNames: spec.env.map((e) => e.name),
          oauth: spec.oauth ?? null,
          recipe: recipeOf(spec),
          isolatedFor: spec.isolatedFor ?? null,
        },
        scope,
      ),
    },
    ExposedPorts: exposed,
    ...(spec.command === null ? {} : { Cmd: [...spec.command] }),
    ...overrides.top,
    ...stdio,
    HostConfig: {
      PortBindings: bindings,
      RestartPolicy: { Name: restartPolicyFor(spec.kind) },
      // An init as PID 1 forwards SIGTERM, so a stop does not wait out the grace period.
      Init: true,
      ...hardened,
      ...overrides.host,
      ...(spec.mounts === undefined || spec.mounts.length === 0
        ? {}
        : { Mounts: spec.mounts.map((m) => ({ Type: "bind" as const, Source: m.hostPath, Target: m.containerPath, ReadOnly: true as const })) }),
    },
  }
}

/** The secret values of a spec, to scrub from anything Docker says back about it. */
export const envValuesOf = (spec: InstanceSpec): ReadonlyArray<string> => spec.env.map((e) => Redacted.value(e.value))
