import { spawn } from "node:child_process"
import { once } from "node:events"
import { basename } from "node:path"
import { onCleanup } from "./cleanup.ts"

/** A bench server in a process of its own: its loopback port, its pid (whose CPU a figure reads), and how to stop it. */
export interface ChildServer {
  readonly port: number
  readonly pid: number
  stop(): void
}

/**
 * Runs `node <script> ...args`, a bench server that prints its loopback port on its first line
 * (bench/lib/floorServer.ts, bench/lib/floorProxy.ts); stopped at the bench's clean-up if not before.
 */
export const startChildServer = async (script: string, args: ReadonlyArray<string>): Promise<ChildServer> => {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "inherit"] })
  const stop = () => {
    child.kill()
  }
  onCleanup(basename(script), async () => stop())
  const [line] = (await once(child.stdout, "data")) as [Buffer]
  return { port: Number(line.toString("utf8").trim()), pid: child.pid ?? -1, stop }
}
