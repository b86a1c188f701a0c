/**
 * One kernel's nbcreds channel: opens the comm, matches replies to requests,
 * and reports whether the kernel has loaded nbcreds at all.
 *
 * Two ways a channel comes up: the panel opens a comm (its open data is a
 * `state` request; a kernel without the target closes it at once, which is how
 * "not loaded" is detected), or the kernel announces itself when
 * `%load_ext nbcreds` runs (a kernel-opened comm on the same target).
 */

import { Kernel, KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import {
  decodeMessage,
  encodeRequest,
  IOpArgs,
  IOpResults,
  IState,
  Op,
  ProtocolError,
  TARGET
} from './protocol';

export type ConnectionStatus = 'connecting' | 'not-loaded' | 'loading' | 'ready';

/** A failed request: the kernel's error type and message (never a value). */
export class RequestError extends Error {
  constructor(
    readonly type: string,
    message: string,
    /** The whole error reply: a KVConflict / KVExists names the key's current type and revision. */
    readonly detail: Record<string, unknown> = {}
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

interface IPending {
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class NbcredsClient {
  constructor(readonly kernel: Kernel.IKernelConnection) {
    this._onKernelComm = this._onKernelComm.bind(this);
    kernel.registerCommTarget(TARGET, this._onKernelComm);
    kernel.statusChanged.connect(this._onKernelStatus, this);
  }

  get status(): ConnectionStatus {
    return this._status;
  }
  get state(): IState | null {
    return this._state;
  }
  /** `performance.now()` when the state arrived: expiries count down from it. */
  get stateTime(): number {
    return this._stateTime;
  }
  get statusChanged(): ISignal<this, ConnectionStatus> {
    return this._statusChanged;
  }
  get stateChanged(): ISignal<this, IState> {
    return this._stateChanged;
  }
  /** Problems that are not a request's own error (a malformed message). */
  get problem(): ISignal<this, string> {
    return this._problem;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Open a comm and ask for the state; resolves once the kernel answered or refused. */
  async connect(): Promise<void> {
    if (this._disposed) {
      return;
    }
    this._setStatus('connecting');
    const comm = this.kernel.createComm(TARGET);
    this._adopt(comm);
    const id = this._nextId++;
    const reply = this._expect<IState>(id, 'state', this.timeoutMs);
    comm.open(encodeRequest(id, 'state', {}));
    try {
      this._setState(await reply);
      this._afterReady();
    } catch (err) {
      if (this._comm === comm) {
        this._comm = null;
        this._setStatus('not-loaded');
      }
    }
  }

  /** Run `%load_ext nbcreds` silently in the kernel, then connect. */
  async loadExtension(): Promise<void> {
    this._setStatus('loading');
    const future = this.kernel.requestExecute({
      code: '%load_ext nbcreds',
      silent: true,
      store_history: false
    });
    const reply = await future.done;
    if (this._status === 'ready') {
      return; // the kernel's announcement already connected us
    }
    if (reply.content.status !== 'ok') {
      this._setStatus('not-loaded');
      const err = reply.content as KernelMessage.IReplyErrorContent;
      throw new RequestError(err.ename ?? 'Error', `%load_ext nbcreds failed: ${err.evalue ?? ''}`);
    }
    await this.connect();
  }

  /** Send one request; the promise settles with the result or a RequestError. */
  async request<K extends Op>(op: K, args: IOpArgs[K], timeoutMs = this.timeoutMs): Promise<IOpResults[K]> {
    const comm = this._comm;
    if (!comm || this._status !== 'ready') {
      throw new RequestError('NotConnected', 'this kernel has not loaded nbcreds');
    }
    const id = this._nextId++;
    const reply = this._expect<IOpResults[K]>(id, op, timeoutMs);
    comm.send(encodeRequest(id, op, args));
    const result = await reply;
    if (op === 'state' || op === 'use_namespace' || op === 'kv_set' || op === 'kv_delete') {
      this._setState(result as IState);
    }
    return result;
  }

  /**
   * Ask for the state; calls made while one request is in flight coalesce into
   * one more request after it (a burst of cells costs two round trips, not N).
   */
  async refresh(): Promise<void> {
    if (this._refreshing) {
      this._refreshAgain = true;
      return;
    }
    this._refreshing = true;
    try {
      do {
        this._refreshAgain = false;
        await this.request('state', {});
      } while (this._refreshAgain && this._status === 'ready');
    } finally {
      this._refreshing = false;
    }
  }

  setWatch(enabled: boolean): void {
    this._watch = enabled;
    if (this._status === 'ready') {
      this.request('watch', { enabled }).catch(() => undefined);
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.kernel.removeCommTarget(TARGET, this._onKernelComm);
    this.kernel.statusChanged.disconnect(this._onKernelStatus, this);
    this._rejectAll(new RequestError('Disposed', 'the panel left this kernel'));
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed && !this.kernel.isDisposed) {
      try {
        comm.close();
      } catch {
        // the kernel is gone already
      }
    }
    Signal.clearData(this);
  }

  timeoutMs = 60000;

  private _afterReady(): void {
    this._setStatus('ready');
    if (this._watch) {
      this.request('watch', { enabled: true }).catch(() => undefined);
    }
  }

  private _onKernelComm(comm: Kernel.IComm, msg: KernelMessage.ICommOpenMsg): void {
    // `%load_ext nbcreds` ran: the kernel opened this comm and sent its state.
    this._adopt(comm);
    this._onData(msg.content.data);
  }

  private _adopt(comm: Kernel.IComm): void {
    const previous = this._comm;
    this._comm = comm;
    this._seq = 0; // a new channel (maybe a restarted kernel) numbers its states afresh
    comm.onMsg = msg => this._onData(msg.content.data);
    comm.onClose = () => {
      if (this._comm === comm) {
        this._comm = null;
        this._rejectAll(new RequestError('NotLoaded', 'the kernel closed the nbcreds channel'));
        if (!this._disposed) {
          this._setStatus('not-loaded');
        }
      }
    };
    if (previous && previous !== comm && !previous.isDisposed) {
      previous.onClose = () => undefined;
      try {
        previous.close();
      } catch {
        // already closed
      }
    }
  }

  private _onData(data: unknown): void {
    let msg;
    try {
      msg = decodeMessage(data);
    } catch (err) {
      this._problem.emit(err instanceof ProtocolError ? err.message : String(err));
      return;
    }
    if (msg.kind === 'event') {
      if (this._status !== 'ready') {
        this._afterReady();
      }
      if (msg.state) {
        // pushed by the kernel's watcher thread: no request, which would wait on the
        // shell channel until a running cell ends
        this._setState(msg.state);
      } else {
        this.refresh().catch(err => this._problem.emit((err as Error).message));
      }
      return;
    }
    const pending = typeof msg.id === 'number' ? this._pending.get(msg.id) : undefined;
    if (!pending) {
      return;
    }
    this._pending.delete(msg.id as number);
    clearTimeout(pending.timer);
    if (msg.ok) {
      pending.resolve(msg.result);
    } else {
      pending.reject(new RequestError(msg.error.type, msg.error.message, msg.error as unknown as Record<string, unknown>));
    }
  }

  private _expect<T>(id: number, op: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new RequestError('Timeout', `no answer to ${op} from the kernel (is it busy?)`));
      }, timeoutMs);
      this._pending.set(id, { resolve: resolve as (r: unknown) => void, reject, timer });
    });
  }

  private _rejectAll(err: Error): void {
    for (const pending of this._pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(err);
    }
    this._pending.clear();
  }

  private _onKernelStatus(_: Kernel.IKernelConnection, status: KernelMessage.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this._comm = null;
      this._rejectAll(new RequestError('Restarted', 'the kernel restarted'));
      this._setStatus('not-loaded');
      this._restarted = status !== 'dead';
    } else if (status === 'idle' && this._restarted) {
      // A kernel that loads nbcreds at startup (IPython config) is ready again.
      this._restarted = false;
      void this.connect();
    }
  }

  private _setState(state: IState): void {
    if (state.seq !== undefined) {
      if (state.seq < this._seq) {
        return; // built before the state shown (a reply crossed a pushed event)
      }
      this._seq = state.seq;
    }
    this._state = state;
    this._stateTime = performance.now();
    this._stateChanged.emit(state);
  }

  private _setStatus(status: ConnectionStatus): void {
    if (this._status !== status) {
      this._status = status;
      this._statusChanged.emit(status);
    }
  }

  private _comm: Kernel.IComm | null = null;
  private _nextId = 1;
  private _pending = new Map<number, IPending>();
  private _status: ConnectionStatus = 'connecting';
  private _state: IState | null = null;
  private _stateTime = 0;
  private _seq = 0;
  private _watch = true;
  private _restarted = false;
  private _refreshing = false;
  private _refreshAgain = false;
  private _disposed = false;
  private _statusChanged = new Signal<this, ConnectionStatus>(this);
  private _stateChanged = new Signal<this, IState>(this);
  private _problem = new Signal<this, string>(this);
}
