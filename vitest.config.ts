import { defineConfig } from "vitest/config"

// Two projects: `unit` runs everywhere with fakes; `docker` drives a real engine and real images.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          // A hang guard, not a speed limit (speed is the bench's): property tests making hundreds of
          // HTTP round trips take 1–3 s alone and over 5 s (the default) on two cores shared with a
          // Docker suite or another run.
          testTimeout: 30_000,
          include: ["packages/*/test/**/*.test.ts", "soak/test/**/*.test.ts", "bench/test/**/*.test.ts", "scripts/test/**/*.test.ts"],
          exclude: ["packages/*/test/**/*.docker.test.ts"],
        },
      },
      {
        test: {
          name: "docker",
          include: ["packages/*/test/**/*.docker.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
