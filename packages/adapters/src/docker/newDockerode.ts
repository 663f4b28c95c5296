import { createRequire, Module } from "node:module"
import type Dockerode from "dockerode"

const require = createRequire(import.meta.url)

/**
 * Puts a stand-in for the CommonJS module at `path` into the require cache: the first call replaces it
 * with the real module and calls that. dockerode and docker-modem require their BuildKit session
 * (`@grpc/grpc-js`, `@grpc/proto-loader`, protobufjs) and SSH transport (`ssh2`, whose poly1305 is a
 * WebAssembly module with 16 MB of memory) at their top level; the DTMA builds no image and dials no
 * SSH host, and loading them cost a fresh process 12 MB of RSS, 4.6 MB of heap and 16.5 MB of external memory.
 */
const deferModule = (path: string): void => {
  if (require.cache[path] !== undefined) return
  const loadReal = (): ((...args: Array<unknown>) => unknown) => {
    if (require.cache[path]?.exports === standIn) delete require.cache[path]
    return require(path) as (...args: Array<unknown>) => unknown
  }
  function standIn(this: unknown, ...args: Array<unknown>): unknown {
    return loadReal().apply(this, args)
  }
  const module = new Module(path)
  module.filename = path
  module.loaded = true
  module.exports = standIn
  require.cache[path] = module
}

let loaded: typeof Dockerode | undefined

/** dockerode's constructor, loaded on first use without its BuildKit session and SSH stacks (loaded if ever called). */
export const dockerodeClass = (): typeof Dockerode => {
  if (loaded !== undefined) return loaded
  const dockerodeMain = require.resolve("dockerode")
  const fromDockerode = createRequire(dockerodeMain)
  const fromModem = createRequire(fromDockerode.resolve("docker-modem"))
  deferModule(fromDockerode.resolve("./session"))
  deferModule(fromModem.resolve("./ssh"))
  loaded = require(dockerodeMain) as typeof Dockerode
  return loaded
}

/** A Docker client with dockerode's defaults (`DOCKER_HOST` or the local socket). */
export const newDockerode = (): Dockerode => new (dockerodeClass())()
