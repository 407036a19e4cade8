import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { CanaryStatus } from '../../../src/api/index.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { waitFor } from '../../harness/processes.ts';

/** One version of a Canary as the apiserver stored it. */
export interface StatusVersion {
  resourceVersion: number;
  status: CanaryStatus;
  deleted: boolean;
}

export interface StatusHistory {
  /** Every version seen so far, in resourceVersion order. */
  versions(): StatusVersion[];
  /** Resolves once the watch delivered the Canary as it is now. */
  started(): Promise<void>;
  stop(): Promise<StatusVersion[]>;
}

interface WatchEvent<T> {
  type: string;
  object: T & { metadata?: { resourceVersion?: string }; code?: number };
}

/**
 * Hands every stored version of one object to `onVersion`, in order, through a watch of
 * `collectionPath` (e.g. `/apis/apps/v1/namespaces/ns/deployments`), so a test sees each write
 * rather than what a poll happened to catch. A watch that ends (server timeout) resumes from
 * the last version; one that expired (410) starts over.
 */
export function watchVersions<T>(
  kubeconfigPath: string,
  collectionPath: string,
  name: string,
  onVersion: (version: number, object: T, deleted: boolean) => void,
): { stop(): Promise<void> } {
  let stopped = false;
  let child: ChildProcess | undefined;
  let lastVersion: string | undefined;

  const watchOnce = () =>
    new Promise<void>((done) => {
      const query = new URLSearchParams({ watch: '1', fieldSelector: `metadata.name=${name}` });
      if (lastVersion !== undefined) query.set('resourceVersion', lastVersion);
      child = spawn(
        'kubectl',
        [`--kubeconfig=${kubeconfigPath}`, 'get', '--raw', `${collectionPath}?${query}`],
        {
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (!line.startsWith('{')) return;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') {
          // 410 Gone: our version was compacted away; the next watch starts from now.
          lastVersion = undefined;
          return;
        }
        const version = event.object.metadata?.resourceVersion;
        if (version === undefined) return;
        lastVersion = version;
        onVersion(Number(version), event.object, event.type === 'DELETED');
      });
      child.once('exit', () => done());
    });

  const loop = (async () => {
    while (!stopped) {
      await watchOnce();
      if (!stopped) await new Promise((resume) => setTimeout(resume, 200));
    }
  })();
  return {
    async stop() {
      stopped = true;
      child?.kill('SIGTERM');
      await loop;
    },
  };
}

/** Records every stored version of one Canary (see watchVersions). */
export function recordStatusHistory(kubeconfigPath: string, namespace: string, name: string): StatusHistory {
  const seen = new Map<number, StatusVersion>();
  const watch = watchVersions<{ status?: CanaryStatus }>(
    kubeconfigPath,
    `/apis/fledge.dev/v1beta1/namespaces/${namespace}/canaries`,
    name,
    (resourceVersion, object, deleted) =>
      seen.set(resourceVersion, { resourceVersion, status: object.status ?? {}, deleted }),
  );
  const versions = () => [...seen.values()].sort((a, b) => a.resourceVersion - b.resourceVersion);
  return {
    versions,
    started: () => waitFor(`a watch on Canary ${namespace}/${name}`, async () => seen.size > 0, 30_000),
    async stop() {
      await watch.stop();
      return versions();
    },
  };
}

const analysisPhases = new Set(['Progressing', 'WaitingPromotion']);
const analysing = new Set([...analysisPhases, 'Promoting', 'Finalising']);

export interface WeightedPlan {
  maxWeight: number;
  stepWeight: number;
  intervalMs: number;
}

/**
 * The invariants of a weighted run's status history, whatever restarts or leader
 * changes happened in between. Returns a list of violations (empty when all hold) so
 * a failing test prints every one of them with the history.
 */
export function weightedRunViolations(history: StatusVersion[], plan: WeightedPlan): string[] {
  const violations: string[] = [];
  const describe = (v: StatusVersion) =>
    `rv ${v.resourceVersion}: ${v.status.phase ?? '-'} weight ${v.status.canaryWeight ?? 0} tick ${
      v.status.tick ? `${v.status.tick.number}@${v.status.tick.startedTime}` : '-'
    } run ${v.status.run ?? '-'}`;
  let previous: StatusVersion | undefined;
  /** The tick number at the last weight increase of the current run. */
  let tickAtLastAdvance: number | undefined;
  for (const version of history.filter((v) => !v.deleted)) {
    const status = version.status;
    const weight = status.canaryWeight ?? 0;
    if (weight > plan.maxWeight)
      violations.push(`weight above maxWeight ${plan.maxWeight}: ${describe(version)}`);
    const prev = previous?.status;
    previous = version;
    if (prev === undefined || prev.run !== status.run) {
      tickAtLastAdvance = undefined;
      continue;
    }
    const prevTick = prev.tick;
    const tick = status.tick;
    if (prevTick && tick && tick.number !== prevTick.number) {
      // Entering promotion may also close an analysis tick that had nothing to ask for
      // (started and judged in the same decision, so never stored): one number more.
      const promotionJump = status.phase === 'Promoting' && prev.phase !== 'Promoting' ? 1 : 0;
      if (tick.number < prevTick.number + 1 || tick.number > prevTick.number + 1 + promotionJump) {
        violations.push(`tick jumped from ${prevTick.number} to ${tick.number}: ${describe(version)}`);
      }
      const gap = Date.parse(tick.startedTime) - Date.parse(prevTick.startedTime);
      // Promotion starts its own (pre-judged) tick at once; analysis ticks wait an interval.
      if (analysisPhases.has(status.phase ?? '') && gap < plan.intervalMs) {
        violations.push(
          `tick ${tick.number} started ${gap} ms after tick ${prevTick.number}: ${describe(version)}`,
        );
      }
    }
    if (prevTick && !tick && analysing.has(status.phase ?? '')) {
      violations.push(`tick lost within run ${status.run}: ${describe(version)}`);
    }
    const prevWeight = prev.canaryWeight ?? 0;
    if (status.phase === 'Progressing' && prev.phase === 'Progressing' && weight !== prevWeight) {
      const expected = Math.min(prevWeight + plan.stepWeight, plan.maxWeight);
      if (weight !== expected) {
        violations.push(
          `weight moved from ${prevWeight} to ${weight}, not ${expected}: ${describe(version)}`,
        );
      }
      const tickNumber = tick?.number ?? 0;
      if (tickAtLastAdvance !== undefined && tickNumber <= tickAtLastAdvance) {
        violations.push(`advanced twice on tick ${tickNumber}: ${describe(version)}`);
      }
      tickAtLastAdvance = tickNumber;
    }
  }
  return violations;
}

const judgementCounters = ['canaryWeight', 'iterations', 'failedChecks'] as const;

/**
 * Ticks judged twice in a status history: a judged tick that turns up judged anew later, or a
 * run's counters (weight, iterations, failed checks) moving during analysis after its tick was
 * judged. Returns the violations; empty when every tick was judged at most once.
 */
export function ticksJudgedTwice(history: StatusVersion[]): string[] {
  const violations: string[] = [];
  const judged = new Set<string>();
  let prev: CanaryStatus | undefined;
  for (const { status, deleted, resourceVersion } of history) {
    const tick = status.tick;
    if (deleted || tick === undefined || !tick.evaluated) {
      prev = deleted ? undefined : status;
      continue;
    }
    const id = `run ${status.run ?? '-'} tick ${tick.number}`;
    const before = prev;
    prev = status;
    if (
      before === undefined ||
      before.run !== status.run ||
      before.tick?.number !== tick.number ||
      !before.tick.evaluated
    ) {
      if (judged.has(id)) violations.push(`${id} judged again at rv ${resourceVersion}`);
      judged.add(id);
    } else if (
      analysisPhases.has(before.phase ?? '') &&
      analysisPhases.has(status.phase ?? '') &&
      judgementCounters.some((k) => (before[k] ?? 0) !== (status[k] ?? 0))
    ) {
      violations.push(`${id}: counters moved after it was judged, at rv ${resourceVersion}`);
    }
  }
  return violations;
}

/** Distinct `phase:weight` pairs in order, from a status history. */
export function phasePath(history: StatusVersion[]): string[] {
  const path: string[] = [];
  for (const { status, deleted } of history) {
    if (deleted) continue;
    const step = `${status.phase ?? '-'}:${status.canaryWeight ?? 0}`;
    if (path.at(-1) !== step) path.push(step);
  }
  return path;
}

export interface RecordedEvent {
  type: string;
  reason: string;
  note: string;
  reportingInstance: string;
  /** series.count, or 1 for an event seen once. */
  count: number;
}

/** The events.k8s.io/v1 events about one Canary. */
export async function canaryEvents(
  kubeconfigPath: string,
  namespace: string,
  name: string,
): Promise<RecordedEvent[]> {
  const out = await kubectl(kubeconfigPath, ['get', 'events.events.k8s.io', '-n', namespace, '-o', 'json']);
  const items = (
    JSON.parse(out) as {
      items: {
        type: string;
        reason: string;
        note?: string;
        reportingInstance?: string;
        regarding?: { kind?: string; name?: string };
        series?: { count: number };
      }[];
    }
  ).items;
  return items
    .filter((e) => e.regarding?.kind === 'Canary' && e.regarding.name === name)
    .map((e) => ({
      type: e.type,
      reason: e.reason,
      note: e.note ?? '',
      reportingInstance: e.reportingInstance ?? '',
      count: e.series?.count ?? 1,
    }));
}

/** Occurrences of an event reason, counting each event's series. */
export function occurrences(events: RecordedEvent[], reason: string): number {
  return events.filter((e) => e.reason === reason).reduce((sum, e) => sum + e.count, 0);
}
