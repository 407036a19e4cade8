/**
 * The V8 flags `fledge` runs with: the image's entry point (Dockerfile), the `fledge` command's
 * shebang (src/cli/main.ts) and the test and benchmark harness pass them; a unit test keeps them the same.
 *
 * `--max-semi-space-size=4` (MiB): V8 otherwise lets the young generation grow to 16 MiB per
 * semi-space while reconciles allocate, and keeps that memory. Measured with `make bench` at
 * N = 100 it cut idle RSS from about 270 to 184 MiB and the heap peak from about 170 to 87 MiB,
 * at the same CPU per step (docs/performance.md).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
