import { Effect } from "effect"
import { credentialDeliveryContract } from "@dtma/testing"
import { makeTmpfsCredentialDelivery } from "../../src/credentials/TmpfsCredentialDelivery.ts"
import { removeRoot, seeOnHost, shmRoot } from "./hostView.ts"

credentialDeliveryContract("TmpfsCredentialDelivery on /dev/shm", async () => {
  const root = await shmRoot()
  const delivery = makeTmpfsCredentialDelivery({ root, onError: (p) => console.error(p) })
  return {
    delivery,
    see: (name) => seeOnHost(root, name),
    cleanup: async () => {
      await Effect.runPromise(delivery.close())
      await removeRoot(root)
    },
  }
})
