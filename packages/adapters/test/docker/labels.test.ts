import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeLabels, encodeLabels, LABEL, type InstanceLabels } from "../../src/docker/labels.ts"

const arbMcp = fc.record({
  transport: fc.constantFrom("stdio" as const, "sse" as const, "websocket" as const, "streamable_http" as const),
  endpointPath: fc.option(fc.string(), { nil: null }),
  port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }),
  isolation: fc.constantFrom("shared" as const, "per_agent" as const),
})

const arbOAuth = fc.record(
  {
    agentId: fc.string(),
    connectionIds: fc.array(fc.string()),
    requiredScopes: fc.array(fc.string()),
    method: fc.constantFrom("mounted_secrets" as const, "runtime_api" as const, "env_vars" as const),
    refreshStrategy: fc.constantFrom("on_expiry" as const, "periodic" as const, "on_demand" as const),
    refreshIntervalSeconds: fc.option(fc.integer({ min: 1, max: 86_400 }), { nil: null }),
    containerUser: fc.option(fc.string(), { nil: undefined }),
  },
  { requiredKeys: ["agentId", "connectionIds", "requiredScopes", "method", "refreshStrategy", "refreshIntervalSeconds"] },
)

const arbCount = fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: null })
const arbRecipe = fc.record({
  command: fc.option(fc.array(fc.string()), { nil: null }),
  ports: fc.array(
    fc.record({
      containerPort: fc.integer({ min: 1, max: 65535 }),
      protocol: fc.constantFrom("tcp" as const, "udp" as const),
      hostIp: fc.string(),
      hostPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }),
    }),
  ),
  pullPolicy: fc.constantFrom("if_not_present" as const, "always" as const, "never" as const),
  overrides: fc.option(
    fc.record({
      entrypoint: fc.option(fc.array(fc.string()), { nil: null }),
      workingDir: fc.option(fc.string(), { nil: null }),
      user: fc.option(fc.string(), { nil: null }),
      labels: fc.dictionary(fc.string(), fc.string()),
      memoryBytes: arbCount,
      nanoCpus: arbCount,
      pidsLimit: arbCount,
      tmpfs: fc.dictionary(fc.string(), fc.string()),
    }),
    { nil: null },
  ),
})

const arbInstanceLabels: fc.Arbitrary<InstanceLabels> = fc.record({
  name: fc.string({ unit: "grapheme", minLength: 1 }),
  // Blank ids are refused by the domain; the empty label value stands for none.
  accountToolInstanceId: fc.option(fc.string({ minLength: 1 }), { nil: null }),
  kind: fc.constantFrom("standard_tool" as const, "mcp_server" as const),
  image: fc.string({ minLength: 1 }),
  mcp: fc.option(arbMcp, { nil: null }),
  envNames: fc.array(fc.string()),
  oauth: fc.option(arbOAuth, { nil: null }),
  recipe: fc.option(arbRecipe, { nil: null }),
  isolatedFor: fc.option(fc.record({ server: fc.string({ minLength: 1 }), agent: fc.string({ minLength: 1 }) }), { nil: null }),
})

const valid = encodeLabels({
  name: "my tool",
  accountToolInstanceId: null,
  kind: "mcp_server",
  image: "dtma/example-http:1",
  mcp: { transport: "sse", endpointPath: "/sse", port: 8080 },
  envNames: ["API_KEY"],
  oauth: null,
  recipe: null,
  isolatedFor: null,
})

describe("instance labels", () => {
  it("decode what they encode, for any instance", () => {
    fc.assert(
      fc.property(arbInstanceLabels, (labels) => {
        expect(decodeLabels(encodeLabels(labels))).toEqual(labels)
      }),
    )
  })

  it("all carry the dtma. prefix", () => {
    fc.assert(fc.property(arbInstanceLabels, (labels) => Object.keys(encodeLabels(labels)).every((k) => k.startsWith("dtma."))))
  })

  it("decode to null for any label set without the managed marker", () => {
    const arbForeign = fc.dictionary(
      fc.string().filter((k) => k !== LABEL.managed),
      fc.string(),
    )
    fc.assert(fc.property(arbForeign, (labels) => decodeLabels(labels) === null))
    fc.assert(
      fc.property(arbInstanceLabels, fc.constantFrom(undefined, "false", "1", ""), (labels, marker) => {
        const { [LABEL.managed]: _, ...rest } = encodeLabels(labels)
        return decodeLabels(marker === undefined ? rest : { ...rest, [LABEL.managed]: marker }) === null
      }),
    )
  })

  it("decode to null when a container is absent or has no labels", () => {
    expect(decodeLabels(null)).toBeNull()
    expect(decodeLabels(undefined)).toBeNull()
    expect(decodeLabels({})).toBeNull()
  })

  it.each([
    ["the name is missing", { [LABEL.name]: undefined }],
    ["the image is missing", { [LABEL.image]: undefined }],
    ["the account tool instance id is missing", { [LABEL.accountToolInstanceId]: undefined }],
    ["the kind is unknown", { [LABEL.kind]: "daemon" }],
    ["the env names are not a JSON array of strings", { [LABEL.envNames]: "API_KEY,TOKEN" }],
    ["the env names hold a non-string", { [LABEL.envNames]: "[1]" }],
    ["the env names are missing", { [LABEL.envNames]: undefined }],
    ["the MCP settings are missing", { [LABEL.mcp]: undefined }],
    ["the MCP settings are not JSON", { [LABEL.mcp]: "sse" }],
    ["the MCP settings are an array", { [LABEL.mcp]: "[]" }],
    ["the MCP transport is unknown", { [LABEL.mcp]: '{"transport":"carrier-pigeon","endpointPath":null,"port":null}' }],
    ["the MCP port is not an integer", { [LABEL.mcp]: '{"transport":"sse","endpointPath":null,"port":"80"}' }],
    ["the MCP endpoint path is absent", { [LABEL.mcp]: '{"transport":"sse","port":80}' }],
  ])("decode to null when %s", (_, change) => {
    const labels: Record<string, string> = { ...valid }
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) delete labels[k]
      else labels[k] = v
    }
    expect(decodeLabels(labels)).toBeNull()
  })

  it("cannot be changed by dtma.* labels the image brings (Docker merges them under the container's)", () => {
    const arbImageLabels = fc.dictionary(fc.constantFrom(...Object.values(LABEL), "dtma.image-hash", "dtma.mcp.transport"), fc.string())
    fc.assert(
      fc.property(arbInstanceLabels, arbImageLabels, (labels, fromImage) => {
        expect(decodeLabels({ ...fromImage, ...encodeLabels(labels) })).toEqual(labels)
      }),
    )
  })

  it("belong to one scope: another scope's labels decode as not ours", () => {
    fc.assert(
      fc.property(arbInstanceLabels, (labels) => {
        expect(decodeLabels(encodeLabels(labels, "ci-7"), "ci-7")).toEqual(labels)
        expect(decodeLabels(encodeLabels(labels, "ci-7"))).toBeNull()
        expect(decodeLabels(encodeLabels(labels), "ci-7")).toBeNull()
      }),
    )
  })

  it("write every key, an absent id as empty and absent MCP settings as null", () => {
    const labels = encodeLabels({
      name: "n",
      accountToolInstanceId: null,
      kind: "standard_tool",
      image: "i",
      mcp: null,
      envNames: [],
      oauth: null,
      recipe: null,
      isolatedFor: null,
    })
    expect(labels).toEqual({
      "dtma.managed": "true",
      "dtma.name": "n",
      "dtma.account-tool-instance-id": "",
      "dtma.kind": "standard_tool",
      "dtma.image": "i",
      "dtma.env-names": "[]",
      "dtma.mcp": "null",
      "dtma.oauth": "null",
      "dtma.recipe": "null",
      "dtma.isolated-server": "",
      "dtma.isolated-agent": "",
    })
  })

  it("name an agent's own instance of a per_agent server by its server and agent, and read a container of an earlier version as no agent's", () => {
    const labels = encodeLabels({ ...decodeLabels(valid)!, name: "memory/agent-7", isolatedFor: { server: "memory", agent: "agent-7" } })
    expect(labels).toMatchObject({ "dtma.isolated-server": "memory", "dtma.isolated-agent": "agent-7" })
    expect(decodeLabels(labels)?.isolatedFor).toEqual({ server: "memory", agent: "agent-7" })
    const { [LABEL.isolatedServer]: _, [LABEL.isolatedAgent]: __, ...earlier } = valid
    expect(decodeLabels(earlier)?.isolatedFor).toBeNull()
  })

  it("read a container of an earlier version, which has no OAuth label, as having no OAuth connections", () => {
    const { [LABEL.oauth]: _, ...earlier } = valid
    expect(decodeLabels(earlier)?.oauth).toBeNull()
  })

  it("read a container without a recipe (an earlier version's) or with one that cannot be read as managed, its recipe unknown", () => {
    const { [LABEL.recipe]: _, ...earlier } = valid
    expect(decodeLabels(earlier)).toMatchObject({ name: "my tool", recipe: null })
    for (const bad of [
      "{",
      "[]",
      '{"command":"ls","ports":[],"pullPolicy":"never","overrides":null}',
      '{"command":null,"ports":[{"containerPort":"80"}],"pullPolicy":"never"}',
    ]) {
      expect(decodeLabels({ ...valid, [LABEL.recipe]: bad })).toMatchObject({ name: "my tool", recipe: null })
    }
  })
})
