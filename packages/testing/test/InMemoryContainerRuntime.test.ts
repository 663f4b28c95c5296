import { containerRuntimeContract, InMemoryContainerRuntime } from "../src/index.ts"

containerRuntimeContract("InMemoryContainerRuntime", async () => ({
  runtime: new InMemoryContainerRuntime({ images: ["dtma/example-http:1"] }),
  image: "dtma/example-http:1",
  imageUser: "1000:1000",
}))
