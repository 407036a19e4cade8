import { describe, expect, it } from '@jest/globals';
import { parseRunOptions, UsageError } from '../../../src/controller/options.ts';

const parse = (argv: string[], env: Record<string, string> = {}) => parseRunOptions(argv, env);

describe('fledge run flags', () => {
  it('has Flagger-like defaults', () => {
    const options = parse([]);
    expect(options).toMatchObject({
      namespace: undefined,
      logLevel: 'info',
      meshProvider: 'kubernetes',
      metricsServer: undefined,
      selectorLabels: ['app', 'name', 'app.kubernetes.io/name'],
      revisionAnnotation: 'fledge.dev/revision',
      includeLabelPrefixes: [],
      configTracking: true,
      workers: 4,
      kubeApi: { qps: 100, burst: 200 },
      listenAddress: ':8080',
      queryTimeoutMs: 30_000,
      leaderElection: undefined,
    });
  });

  it('returns undefined for --help', () => {
    expect(parse(['--help'])).toBeUndefined();
  });

  it('reads every flag', () => {
    const options = parse([
      '--namespace=team-a',
      '--mesh-provider=gatewayapi:v1',
      '--metrics-server=http://prometheus:9090',
      '--query-timeout=1m30s',
      '--include-label-prefix=team.,app.kubernetes.io',
      '--selector-labels=app',
      '--revision-annotation=example.com/commit',
      '--enable-config-tracking=false',
      '--workers=8',
      '--kube-api-qps=20.5',
      '--kube-api-burst=40',
      '--leader-elect',
      '--leader-election-id=fledge-a',
      '--slack-url=https://hooks.example/x',
      '--alert-severity=warn',
      '--cluster-name=prod',
    ]);
    expect(options).toMatchObject({
      namespace: 'team-a',
      meshProvider: 'gatewayapi:v1',
      metricsServer: 'http://prometheus:9090',
      queryTimeoutMs: 90_000,
      includeLabelPrefixes: ['team.', 'app.kubernetes.io'],
      selectorLabels: ['app'],
      revisionAnnotation: 'example.com/commit',
      configTracking: false,
      workers: 8,
      kubeApi: { qps: 20.5, burst: 40 },
      clusterName: 'prod',
      alertFlags: { 'slack-url': 'https://hooks.example/x', 'alert-severity': 'warn' },
    });
    // The Lease lives in the watched namespace unless told otherwise; the identity is unique per process.
    expect(options?.leaderElection).toMatchObject({ namespace: 'team-a', id: 'fledge-a' });
    expect(options?.leaderElection?.identity).toMatch(/-[a-z0-9]{1,6}$/);
  });

  it('takes the Lease timings as Go durations, with controller-runtime defaults', () => {
    expect(parse(['--leader-elect'])?.leaderElection).toMatchObject({
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    });
    const fast = parse([
      '--leader-elect',
      '--leader-election-lease-duration=4s',
      '--leader-election-renew-deadline=3s',
      '--leader-election-retry-period=500ms',
    ]);
    expect(fast?.leaderElection).toMatchObject({
      leaseDurationMs: 4_000,
      renewDeadlineMs: 3_000,
      retryPeriodMs: 500,
    });
  });

  it('takes the log level, kubeconfig, pod name and event webhook from the environment', () => {
    const options = parse(['--leader-elect'], {
      LOG_LEVEL: 'debug',
      KUBECONFIG: '/k',
      POD_NAME: 'fledge-0',
      EVENT_WEBHOOK_URL: 'http://events',
    });
    expect(options).toMatchObject({ logLevel: 'debug', kubeconfig: '/k', eventWebhook: 'http://events' });
    expect(options?.leaderElection?.identity.startsWith('fledge-0-')).toBe(true);
  });

  it.each([
    [['--log-level=verbose'], /--log-level "verbose" must be one of/],
    [['--mesh-provider=envoy'], /--mesh-provider "envoy" is not a known router/],
    [['--metrics-server=prometheus:9090'], /--metrics-server .* must be an http\(s\) URL/],
    [['--query-timeout=10'], /--query-timeout/],
    [['--workers=0'], /--workers "0" must be a whole number from 1 to 64/],
    [['--enable-config-tracking=yes'], /must be true or false/],
    [['--revision-annotation=not a key'], /--revision-annotation "not a key" must be an annotation key/],
    [['--kube-api-qps=0'], /--kube-api-qps "0" must be a number above 0/],
    [['--kube-api-burst=2.5'], /--kube-api-burst "2.5" must be a whole number from 1 to 10000/],
    [['--leader-elect', '--leader-election-lease-duration=1500ms'], /must be whole seconds/],
    [['--leader-elect', '--leader-election-renew-deadline=15s'], /renew-deadline must be shorter than/],
    [['--leader-elect', '--leader-election-retry-period=9s'], /retry-period must be above zero and under/],
    [['--leader-elect', '--leader-election-retry-period=soon'], /--leader-election-retry-period/],
  ])('rejects %j naming the flag', (argv, message) => {
    expect(() => parse(argv)).toThrow(UsageError);
    expect(() => parse(argv)).toThrow(message);
  });

  it('rejects an unknown flag', () => {
    expect(() => parse(['--mesh=istio'])).toThrow(/Unknown option '--mesh'/);
  });
});
