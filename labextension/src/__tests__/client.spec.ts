import { Signal } from '@lumino/signaling';
import { describe, expect, it } from 'vitest';

import { NbcredsClient, RequestError } from '../client';
import { TARGET } from '../protocol';

const state = {
  version: '0.1.0',
  namespace: 'acme',
  namespaces: ['acme'],
  secrets: [{ name: 'A', source: 'env', level: 'acme', inherited: false }],
  credentials: [],
  kv: [],
  kv_types: ['STRING'],
  errors: {}
};

/** A comm as JupyterLab's services hand it out, recording what the panel sends. */
class FakeComm {
  constructor(readonly commId: string) {}
  onMsg: (msg: any) => void = () => undefined;
  onClose: (msg: any) => void = () => undefined;
  opened: any[] = [];
  sent: any[] = [];
  closed = false;
  isDisposed = false;
  open(data: any) {
    this.opened.push(data);
  }
  send(data: any) {
    this.sent.push(data);
  }
  close() {
    this.closed = true;
  }
  /** the kernel answers */
  reply(data: any) {
    this.onMsg({ content: { comm_id: this.commId, data } });
  }
}

/** Only what NbcredsClient touches of a Kernel.IKernelConnection. */
class FakeKernel {
  comms: FakeComm[] = [];
  targets = new Map<string, (comm: any, msg: any) => void>();
  statusChanged = new Signal<this, string>(this);
  executed: string[] = [];
  isDisposed = false;
  executeStatus = 'ok';
  createComm(target: string) {
    expect(target).toBe(TARGET);
    const comm = new FakeComm(`c${this.comms.length}`);
    this.comms.push(comm);
    return comm;
  }
  registerCommTarget(name: string, cb: (comm: any, msg: any) => void) {
    this.targets.set(name, cb);
  }
  removeCommTarget(name: string) {
    this.targets.delete(name);
  }
  requestExecute(content: { code: string }) {
    this.executed.push(content.code);
    return { done: Promise.resolve({ content: { status: this.executeStatus, ename: 'ModuleNotFoundError', evalue: 'x' } }) };
  }
  /** the kernel opens a comm, as %load_ext nbcreds does */
  announce(): FakeComm {
    const comm = new FakeComm('announce');
    this.targets.get(TARGET)!(comm, { content: { comm_id: 'announce', target_name: TARGET, data: { v: 1, event: 'loaded' } } });
    return comm;
  }
}

const tick = () => new Promise(r => setTimeout(r, 0));

function setup() {
  const kernel = new FakeKernel();
  const client = new NbcredsClient(kernel as any);
  return { kernel, client };
}

describe('NbcredsClient', () => {
  it('sends a state request as the comm open data and becomes ready on the reply', async () => {
    const { kernel, client } = setup();
    const done = client.connect();
    const comm = kernel.comms[0];
    expect(comm.opened).toEqual([{ v: 1, id: 1, op: 'state' }]);
    comm.reply({ v: 1, id: 1, op: 'state', ok: true, result: state });
    await done;
    expect(client.status).toBe('ready');
    expect(client.state?.secrets[0].name).toBe('A');
    // watching is asked for once ready
    expect(comm.sent[0]).toMatchObject({ op: 'watch', enabled: true });
  });

  it('reports "not loaded" when the kernel closes the comm (no such target)', async () => {
    const { kernel, client } = setup();
    const statuses: string[] = [];
    client.statusChanged.connect((_, s) => void statuses.push(s));
    const done = client.connect();
    kernel.comms[0].onClose({});
    await done;
    expect(client.status).toBe('not-loaded');
    expect(statuses).toEqual(['not-loaded']);
    await expect(client.request('state', {})).rejects.toBeInstanceOf(RequestError);
  });

  it('adopts the comm the kernel opens on %load_ext and asks it for the state', async () => {
    const { kernel, client } = setup();
    const probe = client.connect();
    kernel.comms[0].onClose({});
    await probe;
    const announced = kernel.announce();
    expect(client.status).toBe('ready');
    const stateRequest = announced.sent.find(m => m.op === 'state');
    expect(stateRequest).toBeDefined();
    announced.reply({ v: 1, id: stateRequest.id, op: 'state', ok: true, result: state });
    await tick();
    expect(client.state?.namespace).toBe('acme');
  });

  it('the Load button runs %load_ext nbcreds and surfaces a failure', async () => {
    const { kernel, client } = setup();
    kernel.executeStatus = 'error';
    await expect(client.loadExtension()).rejects.toThrow(/%load_ext nbcreds failed/);
    expect(kernel.executed).toEqual(['%load_ext nbcreds']);
    expect(client.status).toBe('not-loaded');
  });

  it('matches replies to requests by id and turns errors into RequestError', async () => {
    const { kernel, client } = setup();
    const c = client.connect();
    const comm = kernel.comms[0];
    comm.reply({ v: 1, id: 1, op: 'state', ok: true, result: state });
    await c;
    const a = client.request('test_credential', { name: 'x' });
    const b = client.request('kv_get', { key: 'k' });
    const [ra, rb] = comm.sent.slice(-2);
    comm.reply({ v: 1, id: rb.id, op: 'kv_get', ok: false, error: { type: 'KVNotFound', message: 'no key k' } });
    comm.reply({ v: 1, id: ra.id, op: 'test_credential', ok: true, result: { name: 'x', success: true, message: 'ok' } });
    await expect(a).resolves.toEqual({ name: 'x', success: true, message: 'ok' });
    await expect(b).rejects.toMatchObject({ type: 'KVNotFound', message: 'no key k' });
  });

  it('coalesces a burst of "changed" notices into at most one more state request', async () => {
    const { kernel, client } = setup();
    const c = client.connect();
    const comm = kernel.comms[0];
    comm.reply({ v: 1, id: 1, op: 'state', ok: true, result: state });
    await c;
    const before = comm.sent.length;
    for (let i = 0; i < 5; i++) {
      comm.reply({ v: 1, event: 'changed' });
    }
    let states = comm.sent.slice(before).filter(m => m.op === 'state');
    expect(states.length).toBe(1);
    comm.reply({ v: 1, id: states[0].id, op: 'state', ok: true, result: state });
    await tick();
    states = comm.sent.slice(before).filter(m => m.op === 'state');
    expect(states.length).toBe(2);
    comm.reply({ v: 1, id: states[1].id, op: 'state', ok: true, result: { ...state, namespace: 'acme.b' } });
    await tick();
    expect(comm.sent.slice(before).filter(m => m.op === 'state').length).toBe(2);
    expect(client.state?.namespace).toBe('acme.b');
  });

  it("takes the state a live event carries without a request (it would wait for a busy cell)", async () => {
    const { kernel, client } = setup();
    const c = client.connect();
    const comm = kernel.comms[0];
    comm.reply({ v: 1, id: 1, op: 'state', ok: true, result: { ...state, seq: 1 } });
    await c;
    const before = comm.sent.length;
    comm.reply({ v: 1, event: 'changed', what: ['namespace'], state: { ...state, seq: 2, namespace: 'acme.live' } });
    await tick();
    expect(client.state?.namespace).toBe('acme.live');
    expect(comm.sent.slice(before).filter(m => m.op === 'state')).toEqual([]);
  });

  it('keeps the newer state when an older one arrives after it (a reply crossed an event)', async () => {
    const { kernel, client } = setup();
    const c = client.connect();
    const comm = kernel.comms[0];
    comm.reply({ v: 1, id: 1, op: 'state', ok: true, result: { ...state, seq: 1 } });
    await c;
    const asked = client.request('state', {});
    const request = comm.sent[comm.sent.length - 1];
    comm.reply({ v: 1, event: 'changed', what: ['kv'], state: { ...state, seq: 5, namespace: 'newer' } });
    comm.reply({ v: 1, id: request.id, op: 'state', ok: true, result: { ...state, seq: 4, namespace: 'older' } });
    await expect(asked).resolves.toMatchObject({ namespace: 'older' });
    expect(client.state?.namespace).toBe('newer');
    // a new channel (a restarted kernel counts from 1 again) takes its first state
    kernel.announce().reply({ v: 1, event: 'changed', what: ['kv'], state: { ...state, seq: 1, namespace: 'restarted' } });
    expect(client.state?.namespace).toBe('restarted');
  });

  it('reports a malformed message as a problem instead of crashing', async () => {
    const { kernel, client } = setup();
    const problems: string[] = [];
    client.problem.connect((_, p) => void problems.push(p));
    void client.connect();
    kernel.comms[0].reply({ v: 9, id: 1 });
    expect(problems[0]).toMatch(/protocol v9/);
  });

  it('a kernel restart drops the channel, then probes again once idle', async () => {
    const { kernel, client } = setup();
    const c = client.connect();
    kernel.comms[0].reply({ v: 1, id: 1, op: 'state', ok: true, result: state });
    await c;
    kernel.statusChanged.emit('restarting');
    expect(client.status).toBe('not-loaded');
    kernel.statusChanged.emit('idle');
    expect(kernel.comms.length).toBe(2);
    expect(client.status).toBe('connecting');
  });

  it('dispose closes the comm and removes the target', async () => {
    const { kernel, client } = setup();
    const c = client.connect();
    kernel.comms[0].reply({ v: 1, id: 1, op: 'state', ok: true, result: state });
    await c;
    client.dispose();
    expect(kernel.comms[0].closed).toBe(true);
    expect(kernel.targets.has(TARGET)).toBe(false);
  });
});
