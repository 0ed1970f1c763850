import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Agent, request } from 'undici';
import { parley } from '../support/run-cli.ts';

const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');

/** Where a live node listens, and the certificate it presents (self-signed, kept in its data dir). */
export interface NodeAddress {
  index: number;
  url: string;
  ca: string;
}

/** One slot of the cluster: a `parley start` process that is killed and started again on the same data dir. */
interface NodeSlot {
  index: number;
  dataDir: string;
  child: ChildProcessWithoutNullStreams | undefined;
  address: NodeAddress | undefined;
  /** The last 16 KB the process printed, for a failing test's message. */
  output: string;
  starts: number;
}

export interface NodeClusterOptions {
  nodes: number;
  databaseUrl: string;
  redisUrl: string;
  /** Added to every node's environment. */
  env?: Record<string, string>;
}

/**
 * N compiled Parley servers (`bin/parley.js start`, as production runs them) as the nodes of one deployment
 * on loopback: one PostgreSQL schema (fresh, dropped at the end), one Redis, the same master key and erasure
 * register; each node its own data dir (its lock and TLS certificate) and its own port. A node can be
 * SIGKILLed (no shutdown hook runs) and started again on its data dir; `live()` is what a load balancer in
 * front of them would route to.
 */
export class NodeCluster {
  readonly #slots: NodeSlot[];
  readonly #root: string;
  readonly env: Record<string, string>;
  readonly #dispatchers = new Map<string, Agent>();

  private constructor(
    readonly options: NodeClusterOptions,
    readonly schema: string,
  ) {
    this.#root = mkdtempSync(path.join(os.tmpdir(), 'parley-failover-'));
    this.env = {
      DATABASE_URL: options.databaseUrl,
      PARLEY_DATABASE_SCHEMA: schema,
      PARLEY_DATABASE_POOL_SIZE: '5',
      REDIS_URL: options.redisUrl,
      PARLEY_REDIS_PREFIX: `parley-failover-${randomBytes(4).toString('hex')}:`,
      PARLEY_MASTER_KEY_FILE: path.join(this.#root, 'master.key'),
      PARLEY_ERASURE_LOG_FILE: path.join(this.#root, 'erasures.log'),
      PARLEY_HOST: '127.0.0.1',
      PARLEY_PORT: '0',
      PARLEY_LOG_LEVEL: 'warn',
      PARLEY_METRICS_PORT: '0',
      PARLEY_BACKUPS: 'false',
      PARLEY_REALTIME_FRAMES_PER_SECOND: '1000',
      PARLEY_SEND_RATE_PER_SECOND: '100000',
      PARLEY_SEND_BURST: '100000',
      PARLEY_MAX_CONNECTIONS_PER_ADDRESS: '100000',
      ...options.env,
    };
    this.#slots = Array.from({ length: options.nodes }, (_, index) => {
      const dataDir = path.join(this.#root, `node-${index}`);
      mkdirSync(dataDir);
      return { index, dataDir, child: undefined, address: undefined, output: '', starts: 0 };
    });
  }

  /** Starts every node: the first alone (it migrates the schema and makes the master key), then the rest. */
  static async start(options: NodeClusterOptions): Promise<NodeCluster> {
    const cluster = new NodeCluster(options, `failover_${randomBytes(5).toString('hex')}`);
    await cluster.startNode(0);
    await Promise.all(cluster.#slots.slice(1).map((slot) => cluster.startNode(slot.index)));
    return cluster;
  }

  /** The environment of node `index` (also what the CLI is run with). */
  nodeEnv(index: number): Record<string, string> {
    const slot = this.#slot(index);
    return { ...this.env, PARLEY_DATA_DIR: slot.dataDir, PARLEY_NODE_ID: `node-${index}` };
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Nodes whose process runs and listens now. */
  live(): NodeAddress[] {
    return this.#slots.flatMap((slot) => (slot.address ? [slot.address] : []));
  }

  isLive(index: number): boolean {
    return this.#slot(index).address !== undefined;
  }

  starts(index: number): number {
    return this.#slot(index).starts;
  }

  output(index: number): string {
    return this.#slot(index).output;
  }

  #slot(index: number): NodeSlot {
    const slot = this.#slots[index];
    if (!slot) throw new RangeError(`no node ${index}`);
    return slot;
  }

  /** Starts node `index` on its data dir; resolves once it listens (its banner names URL and certificate). */
  async startNode(index: number): Promise<NodeAddress> {
    const slot = this.#slot(index);
    if (slot.child) throw new Error(`node ${index} already runs`);
    const child = spawn(process.execPath, [parleyBin, 'start'], {
      env: { ...process.env, ...this.nodeEnv(index) },
    });
    slot.child = child;
    slot.output = '';
    slot.starts += 1;
    const address = await new Promise<NodeAddress>((resolve, reject) => {
      // Read for as long as the process lives: a full pipe would block its writes.
      const onOutput = (chunk: Buffer) => {
        slot.output = (slot.output + chunk.toString()).slice(-16_384);
        const url = /Parley is listening on (https:\/\/\S+) /.exec(slot.output)?.[1];
        const cert = /TLS: self-signed certificate (\S+)/.exec(slot.output)?.[1];
        if (url !== undefined && cert !== undefined && slot.address === undefined && slot.child === child)
          resolve({ index, url: url.replace('localhost', '127.0.0.1'), ca: readFileSync(cert, 'utf8') });
      };
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      child.once('exit', (code, signal) => {
        if (slot.child === child) {
          slot.child = undefined;
          slot.address = undefined;
        }
        reject(new Error(`node ${index} exited (${code ?? signal ?? '?'}): ${slot.output.slice(-3000)}`));
      });
    });
    slot.address = address;
    return address;
  }

  /** SIGKILL: the process ends at once, mid-commit or mid-write, and its sockets drop. */
  async kill(index: number): Promise<void> {
    const slot = this.#slot(index);
    const child = slot.child;
    if (!child) return;
    // Out of the routing table first: a load balancer would stop routing to it when its connections fail.
    slot.address = undefined;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    slot.child = undefined;
  }

  #dispatcher(address: NodeAddress): Agent {
    let agent = this.#dispatchers.get(address.url);
    if (!agent) {
      agent = new Agent({ connect: { ca: address.ca, servername: 'localhost' } });
      this.#dispatchers.set(address.url, agent);
    }
    return agent;
  }

  /** One REST call to a live node (the first that is live, or `index`); throws on a non-2xx answer. */
  async call<T>(
    route: string,
    options: { body?: unknown; token?: string; form?: boolean; method?: string; index?: number } = {},
  ): Promise<T> {
    const address =
      options.index === undefined ? this.live()[0] : this.live().find((node) => node.index === options.index);
    if (!address) throw new Error(`no live node for ${route}`);
    const { body, token, form = false } = options;
    const response = await request(`${address.url}${route}`, {
      dispatcher: this.#dispatcher(address),
      method: (options.method ?? (body === undefined ? 'GET' : 'POST')) as 'GET',
      headers: {
        ...(body === undefined
          ? {}
          : { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body:
        body === undefined
          ? null
          : form
            ? new URLSearchParams(body as Record<string, string>).toString()
            : JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${route}: ${response.statusCode} ${text}`);
    return JSON.parse(text) as T;
  }

  /** `parley <args>` with node 0's environment (the CLI beside a running deployment). */
  cli(args: string[]) {
    return parley(args, this.nodeEnv(0));
  }

  /** A query on the cluster's schema, straight to PostgreSQL (for what no API shows, e.g. job leases). */
  async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    await client.connect();
    try {
      await client.query(`set search_path to ${this.schema}`);
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  /** Kills every node, drops the schema (when the database is still there) and removes the data dirs. */
  async close(options: { dropSchema?: boolean } = {}): Promise<void> {
    await Promise.all(this.#slots.map((slot) => this.kill(slot.index)));
    await Promise.all([...this.#dispatchers.values()].map((agent) => agent.close()));
    if (options.dropSchema ?? true) {
      const client = new pg.Client({ connectionString: this.options.databaseUrl });
      await client.connect();
      try {
        await client.query(`drop schema if exists ${this.schema} cascade`);
      } finally {
        await client.end();
      }
    }
    rmSync(this.#root, { recursive: true, force: true });
  }
}
