import { describe, expect, it } from "vitest"
import { redactFields } from "../../src/composition/logger.ts"
import { capturingLogger } from "../support/support.ts"

describe("the logger", () => {
  it("writes one JSON object per line with a level label", () => {
    const { logger, lines } = capturingLogger()
    logger.info({ route: "/tools" }, "request")
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info", service: "dtma", route: "/tools", msg: "request" })
  })

  it("censors fields named like tokens, secrets, passwords, keys and environments, at any depth", () => {
    const { logger, lines } = capturingLogger()
    logger.warn({
      token: "t1",
      outboundToken: "t2",
      nested: { clientSecret: "s1", list: [{ password: "p1" }], apiKey: "k1", API_KEY: "k2" },
      headers: { authorization: "Bearer t3", "content-type": "application/json" },
      env: { A: "e1" },
      environmentVariables: { B: "e2" },
      Env: ["C=e3"],
      kept: "visible",
    })
    const line = lines[0]!
    for (const secret of ["t1", "t2", "t3", "s1", "p1", "k1", "k2", "e1", "e2", "e3"]) expect(line).not.toContain(`"${secret}`)
    expect(JSON.parse(line)).toMatchObject({ kept: "visible", headers: { "content-type": "application/json" } })
  })

  it("leaves fields with ordinary names alone", () => {
    expect(redactFields({ route: "/tools/:name", status: 200, path: "/var/lib/dtma/api-token" })).toEqual({
      route: "/tools/:name",
      status: 200,
      path: "/var/lib/dtma/api-token",
    })
  })
})
