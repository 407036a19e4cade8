import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ProcessGroup } from './processes.ts';

const run = promisify(execFile);

/** The range KWOK gives pod IPs from (`--cidr` in control-plane.ts). */
export const POD_CIDR = '10.244.0.0/16';

export interface PodNetwork {
  /** Name of the network namespace in which every pod IP is a local address. */
  netns: string;
  /** The namespace's end of the veth pair, reachable from the host (a server there can bind it). */
  address: string;
  podCidr: string;
  stop(): Promise<void>;
}

export interface PodNetworkWait {
  /** How long to wait while another process holds the pod network; 0 fails at once. */
  waitMs?: number;
  /** Told once, with the holder's route, when this starts waiting. */
  onWait?: (holder: string) => void;
}

/**
 * Makes KWOK's pod IPs answer: a network namespace in which the whole pod CIDR is local (an "AnyIP"
 * route on its loopback), joined to the host by a veth pair, with a host route sending the pod CIDR
 * through it. A process started in the namespace (`ip netns exec`) and listening on 0.0.0.0
 * receives every connection to any pod IP and sees the pod IP as its local address.
 *
 * The host route makes it one per machine, and is also its lock: whoever adds the route holds the
 * network, and a holder that dies loses it when its reaper deletes the veth. While another process
 * (a parallel test file, a demo) holds it, this waits up to `waitMs` for it to go.
 * Needs CAP_NET_ADMIN (root); CI runs as root.
 */
export async function startPodNetwork(options: PodNetworkWait = {}): Promise<PodNetwork> {
  const deadline = Date.now() + (options.waitMs ?? 0);
  let told = false;
  for (;;) {
    const holder = await refuseUnlessPossible(Date.now() >= deadline);
    if (holder === undefined) {
      const network = await claimPodNetwork();
      if (network) return network;
    } else if (!told) {
      options.onWait?.(holder);
      told = true;
    }
    await new Promise((done) => setTimeout(done, 1_000));
  }
}

/** The pod network, or undefined when another process added the route first. */
async function claimPodNetwork(): Promise<PodNetwork | undefined> {
  // A /30 of its own: two claimants racing for the route must not share an address meanwhile.
  const subnet = await freeSubnet('10.250');
  const [hostAddress, address] = [`${subnet}.1`, `${subnet}.2`];
  try {
    const link = await startNetworkLink('fledge-pods', hostAddress, address, async (ip, netns) => {
      await ip('-n', netns, 'route', 'add', 'local', POD_CIDR, 'dev', 'lo');
      await ip('-n', netns, 'route', 'add', 'default', 'via', hostAddress);
      await ip('route', 'add', POD_CIDR, 'via', address);
    });
    return { netns: link.netns, address: link.address, podCidr: POD_CIDR, stop: link.stop };
  } catch (err) {
    // Two claimants can both see the route missing; the kernel lets one add it.
    if (/File exists/.test((err as { stderr?: string }).stderr ?? '')) return undefined;
    throw err;
  }
}

/** `<prefix>.<n>` for a random n that no address on this machine uses yet: the first three octets of a free /30. */
export async function freeSubnet(prefix: string): Promise<string> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show']);
  const pattern = new RegExp(` ${prefix.replaceAll('.', '\\.')}\\.(\\d+)\\.`, 'g');
  const taken = new Set([...stdout.matchAll(pattern)].map((match) => Number(match[1])));
  const free = Array.from({ length: 256 }, (_, i) => i).filter((i) => !taken.has(i));
  if (free.length === 0) throw new Error(`no free /30 left in ${prefix}.0.0/16 on this machine`);
  return `${prefix}.${free[randomInt(free.length)]}`;
}

export interface NetworkLink {
  /** Name of the network namespace. */
  netns: string;
  /** The host's end of the veth pair: a host address that is neither loopback nor routed anywhere else. */
  hostAddress: string;
  /** The namespace's end. */
  address: string;
  stop(): Promise<void>;
}

/**
 * A network namespace of our own joined to the host by a veth pair (a /30: `hostAddress` on the host,
 * `address` in the namespace); `configure` adds routes. Needs CAP_NET_ADMIN.
 */
export async function startNetworkLink(
  prefix: string,
  hostAddress: string,
  address: string,
  configure: (ip: (...args: string[]) => Promise<unknown>, netns: string) => Promise<void> = async () => {},
): Promise<NetworkLink> {
  const group = await ProcessGroup.create(prefix);
  const id = group.workdir
    .slice(-6)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x');
  const netns = `${prefix}-${id}`;
  const hostIf = `flg${id}h`;
  const podIf = `flg${id}p`;
  const cleanup = join(group.workdir, 'cleanup.sh');
  // The reaper runs this if the owner dies; stop() runs it otherwise. Deleting the host end
  // of the veth removes its peer and the routes through it.
  await writeFile(cleanup, `ip link del ${hostIf} 2>/dev/null\nip netns del ${netns} 2>/dev/null\nexit 0\n`);
  const stop = async () => {
    await group.stop({ keepWorkdir: true });
    await run('bash', [cleanup]);
    await rm(group.workdir, { recursive: true, force: true });
  };
  try {
    const ip = (...args: string[]) => run('ip', args);
    await ip('netns', 'add', netns);
    await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', podIf);
    await ip('link', 'set', podIf, 'netns', netns);
    await ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
    await ip('link', 'set', hostIf, 'up');
    await ip('-n', netns, 'addr', 'add', `${address}/30`, 'dev', podIf);
    await ip('-n', netns, 'link', 'set', podIf, 'up');
    await ip('-n', netns, 'link', 'set', 'lo', 'up');
    await configure(ip, netns);
  } catch (err) {
    await stop();
    throw err;
  }
  return { netns, hostAddress, address, stop };
}

/**
 * Fails with what to do when this machine cannot give pods a network. Returns the route of the
 * process holding it, or undefined when it is free; `final` fails instead of returning a holder.
 */
async function refuseUnlessPossible(final: boolean): Promise<string | undefined> {
  const why = (reason: string) =>
    new Error(
      `cannot make the pod network for traffic tests: ${reason}. These tests need root (CAP_NET_ADMIN) ` +
        `and iproute2 to create a network namespace, a veth pair and a route for ${POD_CIDR}; CI runs them as root.`,
    );
  if (process.getuid?.() !== 0) throw why('not running as root');
  let routes: string;
  try {
    routes = (await run('ip', ['route', 'show', POD_CIDR])).stdout.trim();
  } catch (err) {
    throw why(`\`ip route\` failed (${(err as Error).message.trim()})`);
  }
  if (routes === '') return undefined;
  if (final)
    throw why(
      `${POD_CIDR} is already routed on this machine (${routes}): another pod network is running; ` +
        'stop it first, or delete that route if its owner is gone',
    );
  return routes;
}
