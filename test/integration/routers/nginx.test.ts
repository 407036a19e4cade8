import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { integrationEnv } from '../../harness/env.ts';
import { waitFor } from '../../harness/processes.ts';
import { apply, canary, deployment, setImage } from '../controller/fixtures.ts';
import { sampleDistinct } from '../controller/sampling.ts';
import { FAILING_HOOK, startReleaseRig, type ReleaseRig } from './releases.ts';

// The nginx router through the operator on the real apiserver. Ingress is a core API, so
// the apiserver validates every copy Fledge writes without any CRD; no ingress-nginx runs
// here, and the read-back is the copy's annotations, which is what ingress-nginx reads.

const P = 'nginx.ingress.kubernetes.io/';

interface IngressObject {
  metadata: {
    name: string;
    uid: string;
    generation: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string }[];
  };
  spec: { rules?: { http?: { paths: { backend: { service?: { name: string } } }[] } }[] };
}

function userIngress(namespace: string, name: string, service: string): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace, labels: { app: service }, annotations: { [`${P}proxy-body-size`]: '8m' } },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          host: `${service}.example.com`,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: service, port: { number: 9898 } } },
              },
            ],
          },
        },
      ],
    },
  };
}

describe('nginx router through the operator', () => {
  const { kubeconfigPath } = integrationEnv();
  let rig: ReleaseRig;

  const ingress = (name: string) => rig.get<IngressObject>('ingress', name);
  /** The canary annotations of `<ingress>-canary`, or `none` while there is no copy. */
  const canaryRouting = async (name: string): Promise<string> => {
    const copy = await ingress(`${name}-canary`);
    if (copy === undefined) return 'none';
    return Object.entries(copy.metadata.annotations ?? {})
      .filter(([key]) => key.startsWith(`${P}canary`))
      .map(([key, value]) => `${key.slice(P.length)}=${value}`)
      .sort()
      .join(' ');
  };
  const nginxSpec = (
    name: string,
    analysis: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ) => ({
    provider: 'nginx',
    ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: `${name}-public` },
    analysis,
    ...extra,
  });
  const initialise = (name: string, analysis: Record<string, unknown>, extra?: Record<string, unknown>) =>
    rig.initialise(
      name,
      nginxSpec(name, analysis, extra),
      userIngress(rig.namespace, `${name}-public`, name),
    );
  const runRelease = async (name: string) => {
    const outcome = await rig.release(name, () => canaryRouting(`${name}-public`));
    return { ...outcome, routing: outcome.seen };
  };

  beforeAll(async () => {
    rig = await startReleaseRig('routers-nginx');
  }, 120_000);
  afterAll(async () => rig?.stop());

  it('steps canary-weight on a copy of the Ingress up to maxWeight, then promotes and removes the copy', async () => {
    await initialise('web', { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 });
    const before = await ingress('web-public');
    expect(await canaryRouting('web-public')).toBe('none');

    const sampler = sampleDistinct(async () => {
      const copy = await ingress('web-public-canary');
      return copy === undefined
        ? 'none'
        : JSON.stringify(copy.spec.rules?.[0]?.http?.paths.map((p) => p.backend.service?.name));
    });
    const outcome = await runRelease('web');
    const backends = await sampler.stop();
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.routing).toEqual([
      'none',
      'canary-weight=20 canary=true',
      'canary-weight=40 canary=true',
      'canary-weight=50 canary=true',
      'none',
    ]);
    // The copy sends the user's paths to the canary Service.
    expect(backends).toContain('["web-canary"]');
    const progressing = outcome.path
      .filter((s) => s.startsWith('Progressing:'))
      .map((s) => Number(s.split(':')[1]));
    expect([...new Set(progressing)].filter((w) => w > 0)).toEqual([20, 40, 50]);
    // The user's Ingress was only read.
    const after = await ingress('web-public');
    expect(after?.metadata.generation).toBe(before?.metadata.generation);
    expect(after?.metadata.annotations).toEqual(before?.metadata.annotations);
  }, 240_000);

  it('a failing check rolls back: the copy is removed and everything goes to the primary', async () => {
    await initialise('failing', {
      interval: '10s',
      threshold: 1,
      stepWeight: 20,
      maxWeight: 60,
      webhooks: [{ name: 'smoke', type: 'rollout', url: `${rig.hooks.base}${FAILING_HOOK}`, timeout: '5s' }],
    });
    const outcome = await runRelease('failing');
    expect(outcome.status.phase).toBe('Failed');
    expect(outcome.routing.at(-1)).toBe('none');
    expect(await ingress('failing-public-canary')).toBeUndefined();
    expect(outcome.status.canaryWeight ?? 0).toBe(0);
  }, 240_000);

  it('A/B testing routes by header and cookie on the copy, with weight 0 for everyone else', async () => {
    await initialise('ab', {
      interval: '10s',
      threshold: 1,
      iterations: 2,
      match: [
        { headers: { 'x-canary': { regex: '^(insider|beta)$' } } },
        { headers: { cookie: { exact: 'canary' } } },
      ],
    });
    const outcome = await runRelease('ab');
    expect(outcome.status.phase).toBe('Succeeded');
    expect(outcome.routing).toEqual([
      'none',
      'canary-by-cookie=canary canary-by-header-pattern=^(insider|beta)$ canary-by-header=x-canary canary-weight=0 canary=true',
      'none',
    ]);
  }, 240_000);

  it('deleting a Canary mid-release removes the copy and leaves the user Ingress as it was', async () => {
    await initialise(
      'gone',
      { interval: '10s', threshold: 1, stepWeight: 10, maxWeight: 50 },
      { revertOnDeletion: true },
    );
    const before = await ingress('gone-public');
    await setImage(kubeconfigPath, rig.namespace, 'gone', 'example/web:2');
    await waitFor(
      'the canary Ingress',
      async () => (await ingress('gone-public-canary')) !== undefined,
      120_000,
    );
    await rig.deleteCanary('gone');
    expect(await ingress('gone-public-canary')).toBeUndefined();
    const after = await ingress('gone-public');
    expect(after?.metadata.generation).toBe(before?.metadata.generation);
    expect(after?.metadata.annotations).toEqual(before?.metadata.annotations);
  }, 240_000);

  it('adopts an existing <ingress>-canary for the run and gives it back as it was once the weight is 0', async () => {
    const existing = {
      ...(userIngress(rig.namespace, 'adopt-public-canary', 'adopt') as { spec: object }),
      metadata: {
        name: 'adopt-public-canary',
        namespace: rig.namespace,
        labels: { team: 'web' },
        annotations: { 'example.com/owner': 'team-web' },
      },
    };
    await apply(kubeconfigPath, existing);
    await initialise('adopt', { interval: '10s', threshold: 1, stepWeight: 50, maxWeight: 50 });
    const before = await ingress('adopt-public-canary');
    const outcome = await rig.release('adopt', () => canaryRouting('adopt-public'));
    expect(outcome.status.phase).toBe('Succeeded');
    // Adopted during the run (never deleted), then handed back without any canary annotation.
    expect(outcome.seen).toContain('canary-weight=50 canary=true');
    expect(outcome.seen.at(-1)).toBe('');
    const after = await ingress('adopt-public-canary');
    expect(after?.metadata.uid).toBe(before?.metadata.uid);
    expect(after?.metadata.labels).toEqual({ team: 'web' });
    expect(after?.metadata.annotations).toEqual(before?.metadata.annotations);
    expect(after?.spec).toEqual(before?.spec);
  }, 180_000);

  it('refuses, once and for good, an Ingress with no path to the apex and A/B conditions ingress-nginx cannot combine', async () => {
    const { namespace } = rig;
    await apply(
      kubeconfigPath,
      userIngress(namespace, 'elsewhere-public', 'some-other-service'),
      deployment(namespace, 'elsewhere', 'example/web:1'),
      canary(
        namespace,
        'elsewhere',
        nginxSpec('elsewhere', { interval: '10s', threshold: 1, stepWeight: 20, maxWeight: 50 }),
      ),
      userIngress(namespace, 'both-public', 'both'),
      deployment(namespace, 'both', 'example/web:1'),
      canary(
        namespace,
        'both',
        nginxSpec('both', {
          interval: '10s',
          threshold: 1,
          iterations: 2,
          match: [{ headers: { 'x-canary': { exact: '1' }, 'x-team': { exact: 'a' } } }],
        }),
      ),
    );
    const refused = [
      ['elsewhere', 'spec.ingressRef: Ingress'],
      ['both', 'spec.analysis.match[0]: ingress-nginx cannot require several conditions at once'],
    ] as const;
    await rig.refused(refused);
    for (const [name] of refused) expect(await ingress(`${name}-public-canary`)).toBeUndefined();
  }, 120_000);
});
