import type { ContainerState, PublishedPort } from "@dtma/domain"

/** Docker's port map: `{"8080/tcp":[{"HostIp":"0.0.0.0","HostPort":"30001"}]}`. */
export const dockerPortMap = (ports: ReadonlyArray<PublishedPort>): Record<string, Array<{ HostIp: string; HostPort: string }>> => {
  const map: Record<string, Array<{ HostIp: string; HostPort: string }>> = {}
  for (const p of ports) {
    const key = `${p.containerPort}/${p.protocol}`
    ;(map[key] ??= []).push({ HostIp: p.hostIp, HostPort: p.hostPort === null ? "" : String(p.hostPort) })
  }
  return map
}

/** The slice of Docker's `State` object legacy callers read. */
export const dockerStateOf = (c: { readonly state: ContainerState }): { Status: string; Running: boolean } => ({
  Status: c.state,
  Running: c.state === "running",
})

/** One port as Docker's container list gives it, in both casings old callers read. */
export const listedPort = (p: PublishedPort) => ({
  IP: p.hostIp,
  PrivatePort: p.containerPort,
  ...(p.hostPort === null ? {} : { PublicPort: p.hostPort }),
  Type: p.protocol,
  ip: p.hostIp,
  private_port: p.containerPort,
  ...(p.hostPort === null ? {} : { public_port: p.hostPort }),
  type: p.protocol,
})
