import { Redacted } from "effect"
import type { InstanceSpec } from "@dtma/domain"
import type { CreateContainerBody } from "./DockerApi.ts"
import { encodeLabels } from "./labels.ts"

/** The Docker create body for an instance: the only place environment values are unwrapped. */
export const toCreateBody = (spec: InstanceSpec): CreateContainerBody => {
  const exposed: Record<string, Record<string, never>> = {}
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {}
  for (const p of spec.ports) {
    const key = `${p.containerPort}/${p.protocol}`
    exposed[key] = {}
    // An empty HostPort asks Docker for a free port.
    const binding = { HostIp: p.hostIp, HostPort: p.hostPort === null ? "" : String(p.hostPort) }
    ;(bindings[key] ??= []).push(binding)
  }
  // A stdio MCP server reads requests from stdin: keep it open across attaches or it exits at once.
  const stdio = spec.mcp?.transport === "stdio" ? { OpenStdin: true, StdinOnce: false, Tty: false } : {}
  return {
    name: spec.containerName,
    Image: spec.image,
    Env: spec.env.map((e) => `${e.name}=${Redacted.value(e.value)}`),
    Labels: encodeLabels({
      name: spec.name,
      accountToolInstanceId: spec.accountToolInstanceId,
      kind: spec.kind,
      image: spec.image,
      mcp: spec.mcp,
      envNames: spec.env.map((e) => e.name),
    }),
    ExposedPorts: exposed,
    ...stdio,
    HostConfig: {
      PortBindings: bindings,
      RestartPolicy: { Name: "unless-stopped" },
      // An init as PID 1 forwards SIGTERM, so a stop does not wait out the grace period.
      Init: true,
    },
  }
}

/** The secret values of a spec, to scrub from anything Docker says back about it. */
export const envValuesOf = (spec: InstanceSpec): ReadonlyArray<string> => spec.env.map((e) => Redacted.value(e.value))
