import { execFile, spawn, type ChildProcess } from "node:child_process"
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"

const execFileAsync = promisify(execFile)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A Docker daemon of a test's own, beside the shared one (which other tests use at the same time
 * and must never be restarted): its own socket, data root, exec root (and so its own containerd),
 * no bridge network, no iptables, no live restore. Stdio MCP servers need no network.
 */
export interface PrivateDockerd {
  /** `unix://…/docker.sock`, for `DOCKER_HOST`. */
  readonly host: string
  /** Runs the docker CLI against this daemon; its stdout, trimmed. */
  docker(...args: ReadonlyArray<string>): Promise<string>
  /** Starts the daemon (again, with the same flags) and waits until it answers. */
  start(): Promise<void>
  /** SIGTERM, and waits until the daemon has exited (its containers stop: no live restore). */
  stop(): Promise<void>
  /** Copies an image of the shared daemon into this one. */
  loadImage(image: string): Promise<void>
  /** Stops the daemon (forcibly if it must), unmounts what it left and removes its data. Never throws. */
  destroy(): Promise<void>
  readonly log: () => string
}

export const privateDockerd = (run: string): PrivateDockerd => {
  // Short paths: containerd's socket lives under the exec root and a socket path is at most 107 bytes.
  const dir = `/tmp/dtma-${run}`
  const dataRoot = `/var/lib/dtma-fault-${run}`
  const socket = join(dir, "docker.sock")
  const host = `unix://${socket}`
  const logFile = join(dir, "dockerd.log")
  let child: ChildProcess | null = null

  const docker = async (...args: ReadonlyArray<string>) =>
    (await execFileAsync("docker", ["-H", host, ...args], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 })).stdout.trim()
  const answers = () =>
    docker("info", "--format", "{{.ServerVersion}}").then(
      () => true,
      () => false,
    )
  const exited = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => c.once("exit", () => resolve()))

  const start = async () => {
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, "daemon.json"), "{}\n")
    const out = openSync(logFile, "a")
    const args = [
      `--config-file=${join(dir, "daemon.json")}`,
      `--host=${host}`,
      `--data-root=${dataRoot}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      "--bridge=none",
      "--iptables=false",
      "--ip-masq=false",
      "--live-restore=false",
    ]
    // In a network namespace of its own: a dockerd with --bridge=none deletes the host's `docker0`
    // (moby's removeDefaultBridgeInterface), which the shared engine needs for published ports.
    // `unshare` execs dockerd, so the child is the daemon itself.
    const started = spawn("unshare", ["--net", "dockerd", ...args], { stdio: ["ignore", out, out] })
    child = started
    for (let i = 0; !(await answers()); i++) {
      if (started.exitCode !== null) throw new Error(`dockerd exited at start:\n${readFileSync(logFile, "utf8").slice(-3000)}`)
      if (i > 300) throw new Error(`dockerd did not answer within 30 s:\n${readFileSync(logFile, "utf8").slice(-3000)}`)
      await sleep(100)
    }
  }

  const stop = async () => {
    const c = child
    if (c === null) return
    c.kill("SIGTERM")
    await exited(c)
    child = null
  }

  const destroy = async () => {
    try {
      const ids = (await docker("ps", "-aq").catch(() => "")).split("\n").filter(Boolean)
      if (ids.length > 0) await docker("rm", "-f", ...ids).catch(() => undefined)
      const c = child
      if (c !== null) {
        c.kill("SIGTERM")
        await Promise.race([exited(c), sleep(20_000)])
        if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
        await exited(c)
      }
      // A daemon that was killed leaves its containerd and mounts behind.
      const containerdPid = join(dir, "exec", "containerd", "containerd.pid")
      if (existsSync(containerdPid)) {
        const pid = Number(readFileSync(containerdPid, "utf8").trim())
        if (pid > 0) {
          try {
            process.kill(pid, "SIGKILL")
          } catch {
            // already gone
          }
        }
      }
      const mounts = readFileSync("/proc/self/mounts", "utf8")
        .split("\n")
        .map((l) => l.split(" ")[1] ?? "")
        .filter((m) => m.startsWith(dataRoot) || m.startsWith(dir))
      for (const mount of mounts.reverse()) await execFileAsync("umount", ["-l", mount]).catch(() => undefined)
    } finally {
      rmSync(dataRoot, { recursive: true, force: true })
      rmSync(dir, { recursive: true, force: true })
    }
  }

  return {
    host,
    docker,
    start,
    stop,
    loadImage: async (image) => {
      await execFileAsync("bash", ["-o", "pipefail", "-c", `docker save "$1" | docker -H "$2" load`, "load", image, host])
    },
    destroy,
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
  }
}
