import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { isSafeSegment } from "@dtma/domain"
import { deliveryPathsOf, instanceDirOf, MAX_SOCKET_PATH } from "../../src/credentials/deliveryPaths.ts"

describe("instanceDirOf", () => {
  it("names one safe path segment for any instance name", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: "grapheme" }), (name) => {
        const dir = instanceDirOf(name)
        expect(isSafeSegment(dir)).toBe(true)
        expect(dir.length).toBeLessThanOrEqual(37)
      }),
    )
  })

  it("gives distinct names distinct directories, even names that slug alike", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        fc.pre(a !== b)
        expect(instanceDirOf(a)).not.toBe(instanceDirOf(b))
      }),
    )
    expect(instanceDirOf("my server")).not.toBe(instanceDirOf("my_server"))
  })

  it("keeps the socket path within what a Unix socket allows under the default root", () => {
    expect(Buffer.byteLength(deliveryPathsOf("/run/dtma", "x".repeat(500)).socket)).toBeLessThanOrEqual(MAX_SOCKET_PATH)
  })
})
