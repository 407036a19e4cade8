// `make bench BENCH_FLAGS=--profile`: where the operator's CPU went, from the V8 CPU profile that
// `node --cpu-prof` writes when the process exits. Self time only: what each function did itself.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives: a package, a folder of Fledge's sources, Node itself, or V8's own work. */
export function groupOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  // Sources, or the compiled dist/ the benchmark runs.
  const src = /\/(?:src|dist)\/([^/]+)\//.exec(url);
  if (src) return `fledge ${src[1]}`;
  if (url.startsWith('node:')) return 'node';
  return url;
}

export interface ProfileSummary {
  totalMs: number;
  groups: [string, number][];
  functions: [string, number][];
}

/** Self time by group and by function, largest first, idle time left out. */
export function summarise(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node || node.callFrame.functionName === '(idle)') return;
    const { functionName, url, lineNumber } = node.callFrame;
    const group = groupOf(url, functionName);
    const where =
      url === '' ? '' : ` ${url.replace(/^.*\/(node_modules|src|dist)\//, '$1/')}:${lineNumber + 1}`;
    groups.set(group, (groups.get(group) ?? 0) + ms);
    const name = `${functionName || '(anonymous)'}${where}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
    totalMs += ms;
  });
  const largest = (map: Map<string, number>) => [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { totalMs, groups: largest(groups), functions: largest(functions) };
}

/** Prints the summary of every profile in `dir` (one per process that exited). */
export async function printProfiles(dir: string, write: (line: string) => void): Promise<void> {
  const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) write(`  no CPU profile in ${dir}: the operator did not exit cleanly`);
  for (const file of files) {
    const summary = summarise(JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile);
    const pct = (ms: number) => `${((100 * ms) / summary.totalMs).toFixed(1).padStart(5)}%`;
    write(`  CPU profile ${join(dir, file)}: ${(summary.totalMs / 1000).toFixed(1)} s busy`);
    write('  by group (self time):');
    for (const [group, ms] of summary.groups) write(`    ${pct(ms)}  ${group}`);
    write('  by function (self time):');
    for (const [name, ms] of summary.functions) write(`    ${pct(ms)}  ${name}`);
  }
}
