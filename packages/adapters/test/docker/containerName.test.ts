import fc from "fast-check"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { validateInstanceName } from "@dtma/domain"
import { InMemoryContainerRuntime, arbInstanceName, run } from "@dtma/testing"
import { containerNameFor, replacementNamesFor } from "../../src/docker/containerName.ts"

const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

describe("container names", () => {
  it("maps every acceptable instance name to a container name Docker accepts", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200, unit: "grapheme" }), (name) => {
        if (Exit.isFailure(Effect.runSyncExit(validateInstanceName(name)))) return
        expect(containerNameFor(name)).toMatch(DOCKER_NAME)
        expect(containerNameFor(name).length).toBeLessThanOrEqual(128)
      }),
    )
  })

  it("keeps a name Docker already accepts unchanged", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,60}$/), (name) => {
        expect(containerNameFor(name)).toBe(name)
      }),
    )
  })

  it("maps distinct names to distinct container names", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 30 }), { minLength: 2, maxLength: 40 }), (names) => {
        expect(new Set(names.map(containerNameFor)).size).toBe(names.length)
      }),
    )
  })

  it("maps the name a real caller sent with spaces", () => {
    expect(containerNameFor("Context7 MCP Server-1750278276605")).toMatch(/^Context7-MCP-Server-1750278276605-[0-9a-f]{8}$/)
  })

  it("gives a replacement the plain name first, then distinct stamped ones Docker accepts", () => {
    fc.assert(
      fc.property(arbInstanceName, fc.integer({ min: 0, max: 4_102_444_800_000 }), (name, now) => {
        const names = replacementNamesFor(name, now)
        expect(names[0]).toBe(containerNameFor(name))
        expect(new Set(names).size).toBe(names.length)
        for (const n of names) {
          expect(n).toMatch(DOCKER_NAME)
          expect(n.length).toBeLessThanOrEqual(128)
        }
      }),
    )
  })

  it("is the rule the in-memory runtime names containers by", async () => {
    const runtime = new InMemoryContainerRuntime({ images: ["img"] })
    const spec = {
      accountToolInstanceId: null,
      image: "img",
      kind: "standard_tool" as const,
      env: [],
      ports: [],
      pullPolicy: "never" as const,
      mcp: null,
      command: null,
    }
    await fc.assert(
      fc.asyncProperty(arbInstanceName, async (name) => {
        const created = await run(runtime.create({ ...spec, name }))
        expect(created.containerName).toBe(containerNameFor(name))
        await run(runtime.remove(created.containerId))
      }),
    )
  })
})
