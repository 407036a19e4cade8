import type { AlertProviderType } from '../../../src/api/index.ts';
import type { ResolvedProvider } from '../../../src/notifiers/config.ts';
import type { AlertMessage } from '../../../src/notifiers/message.ts';

export function alertMessage(overrides: Partial<AlertMessage> = {}): AlertMessage {
  return {
    kind: 'StepAdvanced',
    severity: 'info',
    canary: 'podinfo',
    namespace: 'test',
    cluster: 'prod-eu-1',
    phase: 'Progressing',
    weight: 20,
    step: 2,
    totalSteps: 5,
    revision: '7f9c2b1',
    run: 1,
    summary: 'Advanced canary weight to 20%',
    next: 'Next step in 1m if the checks keep passing.',
    occurredAt: '2025-01-02T03:04:05Z',
    ...overrides,
  };
}

export function rolledBack(overrides: Partial<AlertMessage> = {}): AlertMessage {
  return alertMessage({
    kind: 'RolledBack',
    severity: 'error',
    phase: 'Failed',
    weight: 0,
    step: 3,
    summary: 'Rolled back after 5 failed checks',
    failingCheck: {
      type: 'metric',
      name: 'request-success-rate',
      value: 97.25,
      threshold: { min: 99 },
      detail: 'success rate below threshold',
    },
    next: 'Traffic is back on the primary; fix the release and push a new revision.',
    ...overrides,
  });
}

// Long, multi-byte and markup-laden text: what a broken metric message or a careless cluster
// name can put into an alert.
const nasty = '<b>&</b> 漢字 😀 *bold* _it_ `code` @everyone ';
export function oversized(overrides: Partial<AlertMessage> = {}): AlertMessage {
  const long = (n: number) => nasty.repeat(Math.ceil(n / nasty.length)).slice(0, n);
  return rolledBack({
    canary: 'c'.repeat(253),
    namespace: 'n'.repeat(63),
    cluster: long(500),
    revision: 'r'.repeat(300),
    summary: long(10_000),
    next: long(10_000),
    failingCheck: {
      type: 'metric',
      name: 'request-success-rate',
      value: 97.25,
      threshold: { min: 99 },
      detail: long(10_000),
    },
    ...overrides,
  });
}

export function provider(
  type: AlertProviderType,
  overrides: Partial<ResolvedProvider> = {},
): ResolvedProvider {
  return {
    id: `AlertProvider test/${type}`,
    type,
    address: `https://chat.example.com/hooks/${type}/SECRET-PATH-TOKEN-1234`,
    username: 'fledge',
    ...overrides,
  };
}
