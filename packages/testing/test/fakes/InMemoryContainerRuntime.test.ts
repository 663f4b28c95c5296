import { containerRuntimeContract, InMemoryContainerRuntime } from "../../src/index.ts"

containerRuntimeContract("InMemoryContainerRuntime", async () => {
  const runtime = new InMemoryContainerRuntime({ images: ["dtma/example-http:1"] })
  return {
    runtime,
    image: "dtma/example-http:1",
    imageUser: "1000:1000",
    holdName: async (containerName) => void runtime.unmanagedNames.add(containerName),
    kill: async (containerId) => runtime.crash(containerId, 137),
  }
})
