import { join } from "node:path"
import { onCleanup } from "./cleanup.ts"
import { BENCH_LABEL, buildImage, docker } from "./docker.ts"
import { freePort } from "./ports.ts"

export const SUPERGATEWAY_IMAGE = "dtma/bench-supergateway-everything:4.0.0"

/** Builds the peer's image (cached layers make a rebuild take about a second). */
export const buildSupergatewayImage = (): Promise<void> =>
  buildImage({ tag: SUPERGATEWAY_IMAGE, context: join(import.meta.dirname, "..", "images", "supergateway-everything"), dockerfile: "Dockerfile" })

/**
 * supergateway in a container with the DTMA's hardening except the network (it must listen) and the
 * CPU and memory limits (it runs a server process per session, where the DTMA shares one), its port
 * published on loopback. Returns its Streamable HTTP URL and how to remove it.
 */
export const startSupergateway = async (options: { readonly name: string; readonly runId: string }): Promise<{ url: string; stop(): Promise<void> }> => {
  const port = await freePort()
  const container = await docker.createContainer({
    name: options.name,
    Image: SUPERGATEWAY_IMAGE,
    Labels: { [BENCH_LABEL]: options.runId },
    ExposedPorts: { "8000/tcp": {} },
    HostConfig: {
      Init: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw,noexec,nosuid,size=64m" },
      PortBindings: { "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] },
    },
  })
  const stop = () =>
    container.remove({ force: true }).then(
      () => undefined,
      () => undefined,
    )
  onCleanup(`container ${options.name}`, stop)
  await container.start()
  return { url: `http://127.0.0.1:${port}/mcp`, stop }
}
