/**
 * The nbcreds comm protocol, version 1: request encoding and reply decoding.
 *
 * Pure functions with no JupyterLab import, so the schema is tested without a
 * browser (see `src/__tests__/protocol.spec.ts`). The kernel side lives in
 * `src/nbcreds/comm.py`; both validate every message because each side may be
 * a different version than the other.
 */

export const TARGET = 'nbcreds.comm';
export const PROTOCOL_VERSION = 1;

/**
 * A KV type's name. The list of types is the kernel's (`nbcreds.kvstore.KVType`),
 * sent in every state as `kv_types`: the panel keeps no list of its own.
 */
export type KvType = string;

export type JSONValue =
  | string
  | number
  | boolean
  | null
  | JSONValue[]
  | { [key: string]: JSONValue };

/** Requests by op, without the envelope (`v`, `id`, `op`). */
export interface IOpArgs {
  state: Record<string, never>;
  use_namespace: { namespace: string | null };
  test_credential: { name: string };
  kv_get: { key: string };
  /** revision: the one the user saw (0: create; the kernel refuses an existing key). */
  kv_set: { key: string; value: JSONValue; type: KvType | null; revision?: number | null; ttl?: string | null };
  kv_delete: { key: string; revision?: number | null };
  watch: { enabled: boolean };
}
export type Op = keyof IOpArgs;

export interface ISecretRow {
  name: string;
  source: string;
  level: string;
  inherited: boolean;
}

export interface ICredentialRow {
  name: string;
  type: string;
  level: string;
  inherited: boolean;
  cached: boolean;
  /** Seconds until the cached token expires, when the kernel sent the state. */
  expires_in: number | null;
  /** The token state's name (nbcreds.credentials._status); absent from old kernels. */
  state?: TokenState;
  /** The kernel's text for it when it sent the state, e.g. `valid · expires in 59 min`. */
  status?: string;
  /** The last failed mint's message (never a secret), or null. */
  error?: string | null;
}

/** The one token vocabulary's state names, as the kernel sends them. */
export type TokenState = 'valid' | 'expired' | 'not_fetched' | 'failed';

export interface IKvRow {
  key: string;
  type: string;
  revision: number | null;
  expires_in: number | null;
}

export interface IState {
  version: string;
  /**
   * Grows with each state the kernel builds: of two states that crossed on the wire
   * (a reply and a pushed event), the higher is the newer. Absent from old kernels.
   */
  seq?: number;
  namespace: string | null;
  namespaces: string[];
  secrets: ISecretRow[];
  credentials: ICredentialRow[];
  kv: IKvRow[];
  /**
   * The KV store's types, from the kernel. Empty from a v1 kernel that predates it:
   * the editor then offers the edited key's own type (a new key: STRING, the store's
   * default), never a list of its own that could differ from the kernel's.
   */
  kv_types: KvType[];
  errors: Record<string, string>;
}

export interface ITestResult {
  name: string;
  success: boolean;
  message: string;
}

export interface IKvValue {
  key: string;
  type: string;
  text: string;
  revision: number | null;
  expires_in: number | null;
}

/** What each op answers with. */
export interface IOpResults {
  state: IState;
  use_namespace: IState;
  test_credential: ITestResult;
  kv_get: IKvValue;
  kv_set: IState;
  kv_delete: IState;
  watch: { watching: boolean };
}

export interface IRequest {
  v: number;
  id: number;
  op: Op;
  [arg: string]: JSONValue;
}

export interface IError {
  type: string;
  message: string;
}

export type Message =
  | { kind: 'reply'; id: number | string | null; op: string; ok: true; result: unknown }
  | { kind: 'reply'; id: number | string | null; op: string; ok: false; error: IError }
  | { kind: 'event'; event: KernelEvent; state?: IState };

/**
 * Kernel notices: nbcreds was loaded; a cell ran and may have changed things (no
 * payload: the panel asks for the state); something changed while the panel watches
 * (the kernel's watcher pushes the state with it: asking would wait for a running cell).
 */
export type KernelEvent = 'loaded' | 'changed';

/** Thrown for a message that breaks the protocol (the panel shows it, never crashes). */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Build a request; `args` must match the op (the compiler checks it). */
export function encodeRequest<K extends Op>(id: number, op: K, args: IOpArgs[K]): IRequest {
  return { v: PROTOCOL_VERSION, id, op, ...(args as Record<string, JSONValue>) };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function expect(cond: boolean, what: string): void {
  if (!cond) {
    throw new ProtocolError(what);
  }
}

function isNumOrNull(x: unknown): x is number | null {
  return x === null || (typeof x === 'number' && Number.isFinite(x));
}

function decodeRows<T>(x: unknown, section: string, check: (row: Record<string, unknown>) => boolean): T[] {
  expect(Array.isArray(x), `state.${section} must be a list`);
  for (const row of x as unknown[]) {
    expect(isObject(row) && check(row), `a row of state.${section} is malformed`);
  }
  return x as T[];
}

/** Validate a state object from the kernel (shape and types, not values). */
export function decodeState(x: unknown): IState {
  expect(isObject(x), 'state must be an object');
  const s = x as Record<string, unknown>;
  expect(typeof s.version === 'string', 'state.version must be a string');
  expect(s.namespace === null || typeof s.namespace === 'string', 'state.namespace must be a string or null');
  expect(
    Array.isArray(s.namespaces) && (s.namespaces as unknown[]).every(n => typeof n === 'string'),
    'state.namespaces must be a list of strings'
  );
  const str = (v: unknown) => typeof v === 'string';
  const secrets = decodeRows<ISecretRow>(
    s.secrets,
    'secrets',
    r => str(r.name) && str(r.source) && str(r.level) && typeof r.inherited === 'boolean'
  );
  const credentials = decodeRows<ICredentialRow>(
    s.credentials,
    'credentials',
    r => str(r.name) && str(r.type) && str(r.level) && typeof r.cached === 'boolean' && isNumOrNull(r.expires_in)
  );
  const kv = decodeRows<IKvRow>(
    s.kv,
    'kv',
    r => str(r.key) && str(r.type) && isNumOrNull(r.expires_in) && (r.revision === null || typeof r.revision === 'number' || r.revision === undefined)
  );
  expect(isObject(s.errors) && Object.values(s.errors as object).every(str), 'state.errors must map sections to messages');
  expect(s.seq === undefined || (typeof s.seq === 'number' && Number.isFinite(s.seq)), 'state.seq must be a number');
  expect(
    s.kv_types === undefined || (Array.isArray(s.kv_types) && (s.kv_types as unknown[]).every(str)),
    'state.kv_types must be a list of strings'
  );
  return {
    version: s.version as string,
    ...(s.seq === undefined ? {} : { seq: s.seq as number }),
    namespace: s.namespace as string | null,
    namespaces: s.namespaces as string[],
    secrets,
    credentials,
    kv,
    kv_types: (s.kv_types as string[] | undefined) ?? [],
    errors: s.errors as Record<string, string>
  };
}

/** Validate any message from the kernel and tag it as a reply or an event. */
export function decodeMessage(x: unknown): Message {
  expect(isObject(x), 'a message must be an object');
  const m = x as Record<string, unknown>;
  expect(
    m.v === PROTOCOL_VERSION,
    `the kernel speaks protocol v${String(m.v)}, this panel v${PROTOCOL_VERSION}: install matching nbcreds versions`
  );
  if ('event' in m) {
    expect(m.event === 'loaded' || m.event === 'changed', `unknown event ${String(m.event)}`);
    const event = m.event as KernelEvent;
    return 'state' in m ? { kind: 'event', event, state: decodeState(m.state) } : { kind: 'event', event };
  }
  expect(
    m.id === null || typeof m.id === 'number' || typeof m.id === 'string',
    'a reply needs an id'
  );
  const id = m.id as number | string | null;
  const op = typeof m.op === 'string' ? m.op : '';
  if (m.ok === true) {
    const result = ['state', 'use_namespace', 'kv_set', 'kv_delete'].includes(op)
      ? decodeState(m.result)
      : m.result;
    expect(isObject(result), 'a reply result must be an object');
    return { kind: 'reply', id, op, ok: true, result };
  }
  expect(m.ok === false && isObject(m.error), 'a reply needs ok and result or error');
  const e = m.error as Record<string, unknown>;
  expect(typeof e.type === 'string' && typeof e.message === 'string', 'a reply error needs type and message');
  return { kind: 'reply', id, op, ok: false, error: { type: e.type as string, message: e.message as string } };
}
