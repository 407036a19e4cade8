import { describe, expect, it } from '@jest/globals';
import { parseArgs } from 'node:util';
import { resolveNamespace, validateCanaryName } from '../../../src/cli/canary-client.ts';
import { parseCommandLine, runCli, singlePositional, UsageError } from '../../../src/cli/cli-support.ts';
import { createMigrateCommand } from '../../../src/cli/migrate-command.ts';
import { MIGRATE_USAGE } from '../../../src/cli/migrate.ts';
import { captureIO } from './capture.ts';

describe('resolveNamespace', () => {
  it('prefers the flag, then the context namespace, then "default"', () => {
    expect(resolveNamespace('team-a', 'ctx-ns')).toBe('team-a');
    expect(resolveNamespace(undefined, 'ctx-ns')).toBe('ctx-ns');
    expect(resolveNamespace(undefined, undefined)).toBe('default');
    expect(resolveNamespace(undefined, '')).toBe('default');
  });

  it.each(['Team', 'a_b', 'x'.repeat(64), '-lead', ''])('rejects the namespace %j, naming the flag', (ns) => {
    expect(() => resolveNamespace(ns, undefined)).toThrow(UsageError);
    expect(() => resolveNamespace(ns, undefined)).toThrow('-n/--namespace');
  });
});

describe('validateCanaryName', () => {
  it.each(['podinfo', 'web.v2', 'a', 'a-1'])('accepts %s', (name) => {
    expect(validateCanaryName(name)).toBe(name);
  });

  it.each(['Podinfo', 'a/b', 'a..b', 'trailing-', 'x'.repeat(254)])('rejects %j', (name) => {
    expect(() => validateCanaryName(name)).toThrow(/NAME ".*" is not a valid Canary name/);
  });
});

describe('parseCommandLine', () => {
  it('turns parseArgs errors into usage errors with the same message', () => {
    const parse = () => parseArgs({ args: ['--nope'], options: {}, strict: true });
    expect(() => parseCommandLine(parse)).toThrow(UsageError);
    expect(() => parseCommandLine(parse)).toThrow("Unknown option '--nope'");
  });

  it('lets other errors through unchanged', () => {
    const bug = new RangeError('bug');
    expect(() =>
      parseCommandLine(() => {
        throw bug;
      }),
    ).toThrow(bug);
  });
});

describe('singlePositional', () => {
  it('returns the only positional and names what is missing or extra', () => {
    expect(singlePositional(['x'], 'NAME')).toBe('x');
    expect(() => singlePositional([], 'NAME')).toThrow('missing NAME');
    expect(() => singlePositional(['x', 'y'], 'NAME')).toThrow('expected one NAME, got 2: x y');
  });
});

describe('runCli', () => {
  it('passes the body exit code through', async () => {
    const cap = captureIO();
    expect(await runCli(cap.io, 'demo', async () => 0)).toBe(0);
    expect(cap.err()).toBe('');
  });

  it('maps usage errors to 2 and every other error to 1', async () => {
    const usage = captureIO();
    expect(
      await runCli(usage.io, 'demo', async () => {
        throw new UsageError('bad flag');
      }),
    ).toBe(2);
    expect(usage.err()).toBe('fledge demo: bad flag\nRun "fledge demo --help" for usage.\n');

    const failed = captureIO();
    expect(
      await runCli(failed.io, 'demo', async () => {
        throw new Error('canary not found');
      }),
    ).toBe(1);
    expect(failed.err()).toBe('fledge demo: canary not found\n');
  });
});

describe('fledge migrate', () => {
  it('hands its arguments to runMigrate', async () => {
    const out: string[] = [];
    const io = {
      readStdin: async () => '',
      stdout: (t: string) => void out.push(t),
      stderr: () => undefined,
    };
    expect(await createMigrateCommand(io).run(['--help'])).toBe(0);
    expect(out.join('')).toBe(MIGRATE_USAGE);
  });

  it('converts a Flagger manifest read from stdin', async () => {
    const manifest = [
      'apiVersion: flagger.app/v1beta1 # keep this comment',
      'kind: AlertProvider',
      'metadata:',
      '  name: on-call',
      'spec:',
      '  type: slack',
      '',
    ].join('\n');
    const out: string[] = [];
    const notes: string[] = [];
    const io = {
      readStdin: async () => manifest,
      stdout: (t: string) => void out.push(t),
      stderr: (t: string) => void notes.push(t),
    };
    expect(await createMigrateCommand(io).run(['-'])).toBe(0);
    expect(out.join('')).toBe(manifest.replace('flagger.app/v1beta1', 'fledge.dev/v1beta1'));
    expect(notes.join('')).toContain('apiVersion: rewritten');
  });
});
