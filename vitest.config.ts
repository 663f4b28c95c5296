import { defineConfig } from "vitest/config"

// Two projects: `unit` runs everywhere with fakes; `docker` drives a real engine and real images.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
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
