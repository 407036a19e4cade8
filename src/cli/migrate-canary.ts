import {
  GO_DURATION_PATTERN,
  IngressProviders,
  KubernetesUnroutedServiceFields,
  MatchCapableProviders,
  MirrorCapableProviders,
  RewriteTypes,
  parseGoDuration,
  thresholdRangeFromDeprecated,
  type CanaryMetric,
} from '../api/index.ts';
import { SMI_PROVIDERS_WITHOUT_MATCHES } from '../routers/smi.ts';
import type { DocumentEditor, Path } from './migrate-edits.ts';

// Canaries that Flagger v1.44 accepts and Fledge's admission rejects, rewritten
// into the Fledge form of what Flagger did with them. Each rule follows
// Flagger's code (pkg/controller/scheduler*.go, pkg/router, the v1beta1 types)
// and its note says what Flagger did. A rewrite that keeps Flagger's behaviour
// is `rewritten`; one that cannot is `semantics`; what Fledge cannot express at
// all is left as it is with a `rejected` note. Every `rewritten` and
// `semantics` note here goes with a change of the text.

export type FixKind = 'rewritten' | 'semantics' | 'rejected';
export type FixNote = (path: Path, kind: FixKind, message: string) => void;

/**
 * Weights Flagger's loop visits for `stepWeights` (scheduler.go nextStepWeight
 * and runCanary), or the weight where it stalls because the next step is not
 * positive. It promotes once the weight reaches the last step (at most 100).
 */
function flaggerStepWeightsRun(steps: readonly number[]): { weights: number[] } | { stallsAt: number } {
  const last = steps.at(-1);
  if (last === undefined || last <= 0) return { stallsAt: 0 };
  const max = Math.min(100, last);
  const weights: number[] = [];
  let weight = 0;
  while (weight < max) {
    // Towards the entry after the current weight; from a weight not on the list, straight to 100.
    const at = weight === 0 ? -1 : steps.slice(0, -1).indexOf(weight);
    const target = weight === 0 ? steps[0] : at < 0 ? 100 : steps[at + 1];
    const step = Math.min(100 - weight, (target ?? 100) - weight);
    if (!(step > 0)) return { stallsAt: weight };
    weight += step;
    weights.push(weight);
  }
  return { weights };
}

const fledgeSteps = (steps: unknown): boolean =>
  Array.isArray(steps) &&
  steps.length > 0 &&
  steps.every((w, i) => Number.isInteger(w) && w >= 1 && w <= 100 && (i === 0 || w > steps[i - 1]));

const goDuration = new RegExp(GO_DURATION_PATTERN);
const httpUrl = /^https?:\/\/[^ /?#]+[^ ]*$/;
/** Hook types whose failure Flagger only logged (a failing rollback hook never rolls back). */
const harmlessHookTypes = new Set(['post-rollout', 'event', 'rollback']);

const asNumber = (value: unknown) => (typeof value === 'number' ? value : undefined);
const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

class CanaryFixer {
  private readonly editor: DocumentEditor;
  private readonly note: FixNote;
  private readonly provider: string | undefined;

  constructor(editor: DocumentEditor, note: FixNote, provider: string | undefined) {
    this.editor = editor;
    this.note = note;
    this.provider = provider;
  }

  get(path: Path): unknown {
    return this.editor.get(path);
  }

  drop(path: Path, kind: FixKind, why: string): void {
    this.editor.remove(path);
    this.note(path, kind, `${why}: removed`);
  }

  put(path: Path, value: unknown, kind: FixKind, why: string): void {
    this.editor.set(path, value);
    this.note(path, kind, `${why}: written as ${JSON.stringify(value)}`);
  }

  /** With provider set, whether it is not one of `providers`; unset means unknown, as at admission. */
  providerNotIn(providers: readonly string[]): boolean {
    return this.provider !== undefined && !providers.includes(this.provider);
  }

  references(): void {
    const expected: Record<string, (kind: unknown, apiVersion: unknown) => string> = {
      targetRef: (kind, apiVersion) =>
        kind !== 'Service' ? 'apps/v1' : apiVersion === 'serving.knative.dev/v1' ? apiVersion : 'v1',
      autoscalerRef: (kind) => (kind === 'HorizontalPodAutoscaler' ? 'autoscaling/v2' : 'keda.sh/v1alpha1'),
      ingressRef: () => 'networking.k8s.io/v1',
      routeRef: () => 'apisix.apache.org/v2',
      upstreamRef: () => 'gloo.solo.io/v1',
    };
    for (const [ref, apiVersionFor] of Object.entries(expected)) {
      const kind = this.get(['spec', ref, 'kind']);
      const apiVersion = this.get(['spec', ref, 'apiVersion']);
      if (typeof kind !== 'string' || typeof apiVersion !== 'string') continue;
      const want = apiVersionFor(kind, apiVersion);
      if (apiVersion !== want) {
        this.put(
          ['spec', ref, 'apiVersion'],
          want,
          'rewritten',
          `Flagger found the ${kind} by its kind and ignored apiVersion ${apiVersion}`,
        );
      }
    }
    if (
      this.get(['spec', 'autoscalerRef']) !== undefined &&
      this.get(['spec', 'targetRef', 'kind']) === 'DaemonSet'
    ) {
      this.drop(
        ['spec', 'autoscalerRef'],
        'rewritten',
        "Flagger's copy of the autoscaler could not scale a DaemonSet",
      );
    }
    if (
      this.get(['spec', 'autoscalerRef', 'primaryScalerQueries']) !== undefined &&
      this.get(['spec', 'autoscalerRef', 'kind']) !== 'ScaledObject'
    ) {
      this.drop(
        ['spec', 'autoscalerRef', 'primaryScalerQueries'],
        'rewritten',
        'only a KEDA ScaledObject has trigger queries; Flagger ignored them',
      );
    }
    const unused = (field: string, users: readonly string[]) => {
      if (this.get(['spec', field]) !== undefined && this.providerNotIn(users)) {
        this.drop(
          ['spec', field],
          'rewritten',
          `only ${users.join(' and ')} ${users.length > 1 ? 'use' : 'uses'} it; Flagger ignored it with provider ${this.provider}`,
        );
      }
    };
    unused('ingressRef', IngressProviders);
    unused('routeRef', ['apisix']);
    unused('upstreamRef', ['gloo']);
  }

  service(): void {
    if (this.provider !== undefined && !this.provider.startsWith('gatewayapi')) {
      for (const field of ['gatewayRefs', 'backendTimeout', 'mirror']) {
        if (this.get(['spec', 'service', field]) !== undefined) {
          this.drop(
            ['spec', 'service', field],
            'rewritten',
            `a Gateway API setting; Flagger ignored it with provider ${this.provider}`,
          );
        }
      }
    }
    if (this.provider === 'kubernetes') {
      for (const field of KubernetesUnroutedServiceFields) {
        if (this.get(['spec', 'service', field]) !== undefined) {
          this.drop(
            ['spec', 'service', field],
            'rewritten',
            "a request rule; provider kubernetes only switches the apex Service's selector, and Flagger ignored it",
          );
        }
      }
    }
    if (
      this.get(['spec', 'service', 'headless']) === true &&
      this.get(['spec', 'service', 'portDiscovery']) === true
    ) {
      this.drop(
        ['spec', 'service', 'portDiscovery'],
        'semantics',
        'a headless Service maps no ports; Flagger only listed the discovered ports on it',
      );
    }
    const rewriteType = this.get(['spec', 'service', 'rewrite', 'type']);
    if (rewriteType !== undefined && this.provider === 'istio') {
      this.drop(
        ['spec', 'service', 'rewrite', 'type'],
        'rewritten',
        "a Gateway API setting; Flagger's istio router ignored it (Istio's rewrite.uri replaces the matched prefix)",
      );
    } else if (rewriteType !== undefined && !(RewriteTypes as readonly unknown[]).includes(rewriteType)) {
      this.put(
        ['spec', 'service', 'rewrite', 'type'],
        'ReplaceFullPath',
        'rewritten',
        `Flagger read every rewrite type but ReplacePrefixMatch, ${JSON.stringify(rewriteType)} too, as ReplaceFullPath`,
      );
    }
  }

  schedule(a: Path): void {
    const at = (key: string): Path => [...a, key];
    const interval = this.get(at('interval'));
    if (typeof interval === 'string') {
      if (!goDuration.test(interval)) {
        this.put(
          at('interval'),
          '60s',
          'rewritten',
          `Flagger could not parse ${JSON.stringify(interval)} and used 60s`,
        );
      } else if (parseGoDuration(interval) < 10_000) {
        this.put(at('interval'), '10s', 'rewritten', `Flagger raised ${interval} to its minimum, 10s`);
      }
    }
    const threshold = asNumber(this.get(at('threshold')));
    if (threshold !== undefined && threshold < 1) {
      this.put(at('threshold'), 1, 'rewritten', `Flagger read a threshold of ${threshold} as 1`);
    }

    if (this.provider === 'kubernetes' && this.get(at('iterations')) === undefined) {
      const schedule = ['stepWeight', 'stepWeights'].find((key) => this.get(at(key)) !== undefined);
      if (schedule !== undefined) {
        this.editor.rename(at(schedule), 'iterations', 10);
        this.note(
          at(schedule),
          'rewritten',
          `provider kubernetes can only switch all traffic at once: Flagger ignored ${schedule} and ran 10 iterations of blue/green: written as iterations: 10`,
        );
      }
    }

    if (this.get(at('iterations')) !== undefined) {
      if (this.get(at('maxWeight')) !== undefined) {
        this.drop(
          at('maxWeight'),
          'rewritten',
          'blue/green and A/B testing have no weight steps; Flagger ignored maxWeight',
        );
      }
      const promotion = this.get(at('stepWeightPromotion'));
      if (promotion !== undefined) {
        if (this.provider === 'kubernetes') {
          this.drop(
            at('stepWeightPromotion'),
            'rewritten',
            'Flagger promotes at once with provider kubernetes and ignored it',
          );
        } else {
          this.drop(
            at('stepWeightPromotion'),
            'semantics',
            `after the iterations Flagger moved traffic back to the primary ${String(promotion)}% at a time; Fledge promotes blue/green and A/B testing in one step`,
          );
        }
      }
      if (this.get(at('sessionAffinity')) !== undefined) {
        this.drop(
          at('sessionAffinity'),
          'rewritten',
          'blue/green and A/B testing never split traffic by weight, the only time Flagger hands out the cookie',
        );
      }
      return;
    }

    const maxWeight = asNumber(this.get(at('maxWeight')));
    if (maxWeight !== undefined && maxWeight <= 0) {
      this.drop(at('maxWeight'), 'rewritten', `Flagger used 100 for a maxWeight of ${maxWeight}`);
    }
    const steps = this.get(at('stepWeights'));
    if (Array.isArray(steps)) {
      const max = asNumber(this.get(at('maxWeight')));
      if (max !== undefined && max !== steps.at(-1)) {
        this.drop(
          at('maxWeight'),
          'rewritten',
          `with stepWeights Flagger stopped at the last step, ${String(steps.at(-1))}, and ignored maxWeight`,
        );
      }
      if (!fledgeSteps(steps)) {
        const run = flaggerStepWeightsRun(steps as number[]);
        if ('weights' in run) {
          this.put(
            at('stepWeights'),
            run.weights,
            'rewritten',
            `Flagger stepped through ${run.weights.join(', ')} before promoting`,
          );
        } else {
          this.note(
            at('stepWeights'),
            'rejected',
            `Flagger never promoted with these steps (it stalled at weight ${run.stallsAt}); write strictly increasing weights from 1 to 100`,
          );
        }
      }
    }
    const stepWeight = asNumber(this.get(at('stepWeight')));
    const max = asNumber(this.get(at('maxWeight'))) ?? 100;
    if (stepWeight !== undefined && stepWeight > max && max <= 100) {
      const flagger = Math.min(stepWeight, 100);
      this.put(
        at('stepWeight'),
        max,
        flagger === max ? 'rewritten' : 'semantics',
        flagger === max
          ? `Flagger capped the weight at 100 and went there in one step`
          : `Flagger went straight to ${flagger}, past maxWeight ${max}; Fledge never exceeds maxWeight`,
      );
    }
    const promotion = asNumber(this.get(at('stepWeightPromotion')));
    if (promotion !== undefined && (promotion <= 0 || promotion > 100)) {
      this.drop(
        at('stepWeightPromotion'),
        'rewritten',
        `Flagger moved all traffic to the primary at once for ${promotion}`,
      );
    }
  }

  routing(a: Path): void {
    const at = (key: string): Path => [...a, key];
    const iterations = this.get(at('iterations')) !== undefined;
    const mirrorWeight = asNumber(this.get(at('mirrorWeight')));
    if (mirrorWeight !== undefined && this.get(at('mirror')) !== true) {
      this.drop(
        at('mirrorWeight'),
        'rewritten',
        'Flagger mirrors only with mirror: true and ignored mirrorWeight',
      );
    } else if (mirrorWeight !== undefined && mirrorWeight <= 0) {
      this.drop(
        at('mirrorWeight'),
        'rewritten',
        `Flagger mirrored all traffic for a mirrorWeight of ${mirrorWeight}`,
      );
    }

    const match = this.get(at('match'));
    if (Array.isArray(match) && match.length === 0) {
      this.drop(at('match'), 'rewritten', 'Flagger ignored an empty match list');
    } else if (match !== undefined) {
      // smi:v1alpha1/v1alpha2 accept match at admission and are refused when run: treat as Flagger did.
      const matching = MatchCapableProviders.filter((p) => !SMI_PROVIDERS_WITHOUT_MATCHES.includes(p));
      if (this.providerNotIn(matching)) {
        if (this.provider === 'kubernetes') {
          this.drop(
            at('match'),
            'rewritten',
            'Flagger dropped match with provider kubernetes and ran blue/green',
          );
        } else if (!iterations) {
          this.drop(
            at('match'),
            'rewritten',
            `provider ${this.provider} cannot route by request; Flagger's router ignored match`,
          );
        } else {
          this.note(
            at('match'),
            'rejected',
            `provider ${this.provider} cannot route by request, so Flagger's A/B testing sent all traffic to the canary for the iterations; Fledge has no such mode: remove match for blue/green, or use a provider that routes by request`,
          );
        }
      } else if (!iterations) {
        this.note(
          at('match'),
          'rejected',
          'with stepWeight(s) Flagger ran a progressive canary and let the router limit it to matching requests; Fledge uses match only for A/B testing: add iterations and remove stepWeight(s), or remove match',
        );
      }
    }

    if (this.get(at('mirror')) === true) {
      const why =
        iterations && this.get(at('match')) !== undefined
          ? 'A/B testing does not mirror; Flagger ignored mirror'
          : this.providerNotIn(MirrorCapableProviders)
            ? `provider ${this.provider} cannot mirror; Flagger's router ignored mirror`
            : undefined;
      if (why !== undefined) {
        this.drop(at('mirror'), 'rewritten', why);
        if (this.get(at('mirrorWeight')) !== undefined) this.drop(at('mirrorWeight'), 'rewritten', why);
      }
    }

    const affinity: Path = at('sessionAffinity');
    if (this.get(affinity) !== undefined) {
      if (this.providerNotIn(MirrorCapableProviders)) {
        this.drop(
          affinity,
          'rewritten',
          `provider ${this.provider} cannot route by cookie; Flagger's router ignored sessionAffinity`,
        );
      } else {
        if (this.get([...affinity, 'maxAge']) === 0) {
          this.drop([...affinity, 'maxAge'], 'rewritten', 'Flagger used 86400 seconds for a maxAge of 0');
        }
        const needsSecure =
          this.get([...affinity, 'sameSite']) === 'None' || this.get([...affinity, 'partitioned']) === true;
        if (needsSecure && this.get([...affinity, 'secure']) !== true) {
          this.put(
            [...affinity, 'secure'],
            true,
            'rewritten',
            "browsers drop a SameSite=None or partitioned cookie that is not Secure, so Flagger's cookie never pinned anyone",
          );
        }
      }
    }

    for (const key of ['primaryReadyThreshold', 'canaryReadyThreshold']) {
      const value = asNumber(this.get(at(key)));
      if (value !== undefined && value < 0) {
        this.put(at(key), 0, 'rewritten', `Flagger treated a ${key} of ${value} as 0`);
      }
    }
  }

  /** The entries still present in the list `key` of the analysis, with their paths. */
  entries(a: Path, key: string): { path: Path; entry: Record<string, unknown> }[] {
    return this.editor.indices([...a, key]).flatMap((i) => {
      const path: Path = [...a, key, i];
      const entry = this.get(path);
      return isRecord(entry) ? [{ path, entry }] : [];
    });
  }

  metrics(a: Path): void {
    for (const { path, entry } of this.entries(a, 'metrics')) {
      const m = entry as CanaryMetric;
      const at = (key: string): Path => [...path, key];
      if (m.query !== undefined && m.templateRef !== undefined) {
        this.note(
          at('query'),
          'rejected',
          'Flagger ran both the inline query and the template against the same threshold; Fledge runs one query per metric: move the inline query into a metric of its own',
        );
      }
      if (m.templateVariables !== undefined && m.templateRef === undefined && m.query === undefined) {
        this.drop(
          at('templateVariables'),
          'rewritten',
          'builtin queries have no variables; Flagger ignored them',
        );
      }
      const range = m.thresholdRange as Record<string, unknown> | null | undefined;
      if (isRecord(range)) {
        if (m.threshold !== undefined) {
          this.drop(at('threshold'), 'rewritten', 'Flagger judged by thresholdRange and ignored threshold');
        }
        if (range.min === undefined && range.max === undefined) {
          this.drop(
            path,
            'semantics',
            `metric "${m.name}": its thresholdRange sets no bound, so Flagger passed every value (only a query without data failed it); add thresholdRange.min or max to keep it as a check`,
          );
        } else if (typeof range.min === 'number' && typeof range.max === 'number' && range.min > range.max) {
          this.note(
            at('thresholdRange'),
            'rejected',
            'no value fits between min and max, so Flagger failed this check on every step: fix the bounds',
          );
        }
        continue;
      }
      const threshold = asNumber(m.threshold) ?? 0;
      const { bound, range: written } = thresholdRangeFromDeprecated(m, threshold);
      if (m.threshold !== undefined) {
        if (range === null) this.editor.remove(at('thresholdRange'));
        this.editor.rename(at('threshold'), 'thresholdRange', written);
        this.note(
          at('threshold'),
          'rewritten',
          `deprecated: Flagger failed the check when the value was ${bound === 'min' ? 'below' : 'above'} ${threshold}; written as thresholdRange.${bound}: ${threshold}`,
        );
      } else {
        this.editor.set(at('thresholdRange'), written);
        this.note(
          at('thresholdRange'),
          'rewritten',
          bound === 'min'
            ? 'no threshold: Flagger compared the success rate against 0, so every value passed; written as thresholdRange.min: 0 (raise it to make the check useful)'
            : 'no threshold: Flagger compared the value against 0 and failed the check above it; written as thresholdRange.max: 0',
        );
      }
    }
  }

  webhooks(a: Path): void {
    for (const { path, entry: hook } of this.entries(a, 'webhooks')) {
      const type = hook.type === undefined || hook.type === '' ? 'rollout' : String(hook.type);
      if (typeof hook.url === 'string' && !httpUrl.test(hook.url) && harmlessHookTypes.has(type)) {
        this.drop(
          path,
          'rewritten',
          `webhook "${String(hook.name)}": Flagger could never call ${JSON.stringify(hook.url)} (not an absolute http or https URL), which for a ${type} hook it only logged`,
        );
        continue;
      }
      const retries = asNumber(hook.retries);
      if (retries !== undefined && retries < 0) {
        this.put([...path, 'retries'], 0, 'rewritten', 'Flagger made no retries for a negative count');
      }
    }
  }

  /** Flagger's empty webhook type and alert severity, written as what they mean. */
  emptyTypes(a: Path): void {
    const spell = (list: string, field: string, meaning: string) => {
      for (const { path, entry } of this.entries(a, list)) {
        if (entry[field] === '') {
          this.put([...path, field], meaning, 'rewritten', `deprecated: an empty ${field} means ${meaning}`);
        }
      }
    };
    spell('webhooks', 'type', 'rollout');
    spell('alerts', 'severity', 'info');
  }

  /** Flagger ran every entry of a list, whatever its name; Fledge keys the lists by name. */
  uniqueNames(a: Path): void {
    for (const key of ['metrics', 'webhooks', 'alerts']) {
      const entries = this.entries(a, key);
      const names = new Set(entries.map(({ entry }) => entry.name));
      const seen = new Set<unknown>();
      for (const { path, entry } of entries) {
        const name = entry.name;
        if (typeof name !== 'string') continue;
        if (!seen.has(name)) {
          seen.add(name);
          continue;
        }
        let n = 2;
        while (names.has(`${name}-${n}`)) n++;
        const renamed = `${name}-${n}`;
        names.add(renamed);
        this.put(
          [...path, 'name'],
          renamed,
          'rewritten',
          `a second entry named ${name}, which Flagger ran as well; names must be unique`,
        );
      }
    }
  }
}

/**
 * Rewrites the Canary held by `editor`. Returns the path of its analysis
 * (spec.analysis, or the deprecated spec.canaryAnalysis), if it has one.
 */
export function fixCanary(editor: DocumentEditor, note: FixNote): Path | undefined {
  const provider = editor.get(['spec', 'provider']);
  const fixer = new CanaryFixer(editor, note, typeof provider === 'string' ? provider : undefined);
  fixer.references();
  fixer.service();
  let analysis: Path | undefined;
  if (editor.get(['spec', 'analysis']) !== undefined) {
    analysis = ['spec', 'analysis'];
    if (editor.get(['spec', 'canaryAnalysis']) !== undefined) {
      fixer.drop(
        ['spec', 'canaryAnalysis'],
        'rewritten',
        "Flagger's CRD has no canaryAnalysis, so the apiserver pruned it and Flagger used spec.analysis",
      );
    }
  } else if (editor.get(['spec', 'canaryAnalysis']) !== undefined) {
    analysis = ['spec', 'canaryAnalysis'];
  }
  if (analysis === undefined || !isRecord(editor.get(analysis))) return analysis;
  fixer.schedule(analysis);
  fixer.routing(analysis);
  fixer.metrics(analysis);
  fixer.webhooks(analysis);
  fixer.uniqueNames(analysis);
  fixer.emptyTypes(analysis);
  if (analysis[1] === 'canaryAnalysis') {
    editor.renameKey(analysis, 'analysis');
    note(analysis, 'rewritten', 'deprecated alias of spec.analysis: renamed');
    return ['spec', 'analysis'];
  }
  return analysis;
}
