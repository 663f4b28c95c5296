import { Effect, Redacted } from "effect"
import { makeInstances } from "@dtma/domain"
import { InMemoryContainerRuntime } from "@dtma/testing"

// Any ContainerRuntime works: DockerContainerRuntime from @dtma/adapters in production.
const runtime = new InMemoryContainerRuntime({ images: ["dtma/example-http:1"] })
const instances = makeInstances({ runtime, settings: { reservedHostPorts: [30000], stopGraceSeconds: 10 } })

const program = Effect.gen(function* () {
  yield* instances.reconcile() // adopt what a previous process left running
  const tool = yield* instances.deploy({
    name: "weather tool",
    accountToolInstanceId: "ati-42",
    image: "dtma/example-http:1",
    env: [{ name: "TOOL_API_KEY", value: Redacted.make("never logged") }],
    ports: [{ containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null }],
  })
  yield* instances.stop(tool.name)
  return yield* instances.list()
}).pipe(Effect.catchTag("InstanceAlreadyExists", (e) => Effect.fail(`pick another name: ${e.message}`)))

export const listed = await Effect.runPromise(program)
