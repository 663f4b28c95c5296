import type { InstanceSpec } from "@dtma/domain"
import type { ContainerBehaviour } from "@dtma/testing"

/** A server that keeps running, and a bare Node to run one-liners in (both built by scripts/build-images.sh). */
export const SERVING_IMAGE = "dtma/example-http:1"
export const NODE_IMAGE = "dtma/node-base:24"

const EAT_MEMORY = "const a = []; for (;;) a.push(Buffer.alloc(1 << 20).fill(1))"

/**
 * A container that does what the ContainerEvents contract asks once started. An MCP server over
 * stdio: Docker never restarts it on its own (that would add events), and it has no network.
 */
export const eventContainerSpec = (options: { readonly name: string; readonly behaviour: ContainerBehaviour }): InstanceSpec => {
  const { behaviour } = options
  const command =
    behaviour === "serves" ? null : behaviour === "exhausts_memory" ? ["node", "-e", EAT_MEMORY] : ["node", "-e", `process.exit(${behaviour.exitsWith})`]
  return {
    name: options.name,
    accountToolInstanceId: null,
    image: behaviour === "serves" ? SERVING_IMAGE : NODE_IMAGE,
    kind: "mcp_server",
    env: [],
    ports: [],
    pullPolicy: "never",
    mcp: { transport: "stdio", endpointPath: null, port: null },
    command,
    overrides:
      behaviour === "exhausts_memory"
        ? { entrypoint: null, workingDir: null, user: null, labels: {}, memoryBytes: 64 * 1024 * 1024, nanoCpus: null, pidsLimit: null, tmpfs: {} }
        : undefined,
  }
}
