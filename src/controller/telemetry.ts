import type { Canary, CanaryStatus, NormalizedCanarySpec, Phase } from '../api/index.ts';
import { identityOf } from './identity.ts';
import { forgetCanary } from '../analysis/index.ts';
import {
  CanaryStatusValue,
  forgetCanaryMetrics,
  initCanaryMetrics,
  type FledgeMetrics,
} from '../telemetry/metrics.ts';

const running: ReadonlySet<Phase> = new Set(['Progressing', 'WaitingPromotion', 'Promoting', 'Finalising']);

/** Keeps Fledge's canary metrics (Flagger's, under fledge_) in step with each decided status. */
export class CanaryTelemetry {
  readonly #metrics: FledgeMetrics;
  /** Canaries seen, with their target name (to drop their series) and namespace. */
  readonly #known = new Map<string, { target: string; namespace: string }>();
  /** When each running analysis started, to observe its duration. */
  readonly #startedAt = new Map<string, number>();

  constructor(metrics: FledgeMetrics) {
    this.#metrics = metrics;
  }

  observe(canary: Canary, spec: NormalizedCanarySpec, previous: CanaryStatus, next: CanaryStatus): void {
    const { name, namespace } = identityOf(canary);
    const key = `${namespace}/${name}`;
    const strategy = next.strategy ?? 'Canary';
    if (!this.#known.has(key)) {
      this.#known.set(key, { target: spec.targetRef.name, namespace });
      initCanaryMetrics(this.#metrics, name, namespace, strategy);
      this.#countNamespace(namespace);
    }
    const metrics = this.#metrics.canary;
    const phase = next.phase;
    const value =
      phase === 'Succeeded'
        ? CanaryStatusValue.succeeded
        : phase === 'Failed'
          ? CanaryStatusValue.failed
          : CanaryStatusValue.running;
    metrics.status.set({ name, namespace }, value);
    const ready = next.conditions?.find((c) => c.type === 'Ready');
    metrics.analysisHalted.set({ name, namespace }, ready?.reason === 'AnalysisHalted' ? 1 : 0);
    const weight = next.canaryWeight ?? 0;
    metrics.weight.set({ workload: spec.targetRef.name, namespace }, weight);
    metrics.weight.set({ workload: `${spec.targetRef.name}-primary`, namespace }, 100 - weight);

    if (phase === previous.phase || phase === undefined) return;
    const now = Date.now();
    if (phase === 'Progressing' && !running.has(previous.phase as Phase)) this.#startedAt.set(key, now);
    if (phase === 'Succeeded' || phase === 'Failed') {
      const labels = {
        name,
        namespace,
        deployment_strategy: strategy,
        analysis_status: spec.skipAnalysis ? 'skipped' : 'completed',
      };
      (phase === 'Succeeded' ? metrics.successes : metrics.failures).inc(labels);
      const started = this.#startedAt.get(key);
      if (started !== undefined) metrics.duration.observe({ name, namespace }, (now - started) / 1000);
      this.#startedAt.delete(key);
    }
  }

  async forget(name: string, namespace: string): Promise<void> {
    const key = `${namespace}/${name}`;
    const known = this.#known.get(key);
    if (!known) return;
    this.#known.delete(key);
    this.#startedAt.delete(key);
    await forgetCanaryMetrics(this.#metrics, name, namespace, known.target);
    await forgetCanary(this.#metrics.canary.metricAnalysis, { name, namespace });
    this.#countNamespace(namespace);
  }

  #countNamespace(namespace: string): void {
    const count = [...this.#known.values()].filter((k) => k.namespace === namespace).length;
    this.#metrics.canary.total.set({ namespace }, count);
  }
}
