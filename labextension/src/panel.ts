/**
 * The left-sidebar panel: the active notebook kernel's nbcreds state.
 *
 * Names and metadata only: the kernel never sends a secret or token value, and
 * the panel never asks for one. A KV value (state, not a secret) is fetched
 * only when the user opens it in the editor.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';
import { ISessionContext } from '@jupyterlab/apputils';
import { collapseAllIcon, expandAllIcon, LabIcon, refreshIcon, runIcon, Toolbar } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { ConnectionStatus, NbcredsClient, RequestError } from './client';
import {
  credentialStatus,
  credentialStatusText,
  formatExpiry,
  kvTypeChoices,
  levelLabel,
  namespaceFromInput,
  namespaceOptions,
  parseKvText,
  summary
} from './model';
import { IState, KvType } from './protocol';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') {
      node.className = v;
    } else {
      node.setAttribute(k, v);
    }
  }
  for (const child of children) {
    node.append(child);
  }
  return node;
}

/** A text button styled as JupyterLab's own (theme fonts, colours and focus ring). */
function button(
  label: string,
  cls: string,
  onClick: () => void,
  title = '',
  kind: 'accept' | 'reject' | 'warn' = 'reject'
): HTMLButtonElement {
  const b = el(
    'button',
    { class: `jp-Button jp-mod-styled jp-mod-${kind} nbc-button ${cls}`, type: 'button', title: title || label },
    label
  );
  b.addEventListener('click', onClick);
  return b;
}

/**
 * A toolbar icon button: a native <button> (so aria-pressed and disabled are valid
 * ARIA, which axe-core checks) with JupyterLab's toolbar classes and a ui-components icon.
 */
class IconButton extends Widget {
  constructor(
    private _icon: LabIcon,
    cls: string,
    private _label: string,
    onClick: () => void,
    private _pressedIcon: LabIcon = _icon,
    private _pressedLabel: string = _label
  ) {
    super({ node: document.createElement('button') });
    const b = this.node as HTMLButtonElement;
    b.type = 'button';
    b.className = `jp-ToolbarButtonComponent jp-mod-minimal jp-Button nbc-toolbar-button ${cls}`;
    b.addEventListener('click', () => {
      if (!b.disabled) {
        onClick();
      }
    });
    this._paint();
  }

  set enabled(value: boolean) {
    (this.node as HTMLButtonElement).disabled = !value;
  }

  get enabled(): boolean {
    return !(this.node as HTMLButtonElement).disabled;
  }

  set pressed(value: boolean) {
    this._pressed = value;
    this._paint();
  }

  private _paint(): void {
    const label = this._pressed ? this._pressedLabel : this._label;
    this.node.title = label;
    this.node.setAttribute('aria-label', label);
    if (this._pressedIcon !== this._icon) {
      this.node.setAttribute('aria-pressed', String(this._pressed));
    }
    this.node.replaceChildren(
      (this._pressed ? this._pressedIcon : this._icon).element({ tag: 'span', className: 'jp-ToolbarButtonComponent-icon' })
    );
  }

  private _pressed = false;
}

/** Sections a user can fold; the folded ones stay folded across re-renders. */
const SECTIONS = ['nbc-namespace', 'nbc-secrets', 'nbc-credentials', 'nbc-kv'] as const;

export class NbcredsPanel extends Panel {
  constructor(tracker: INotebookTracker) {
    super();
    this.id = 'nbcreds-sidebar';
    this.addClass('nbc-panel');
    this.title.caption = 'nbcreds: secrets, credentials and KV of this kernel';
    this._toolbar = new Toolbar();
    this._toolbar.addClass('nbc-toolbar');
    this._refreshButton = new IconButton(refreshIcon, 'nbc-refresh', 'Refresh: ask the kernel again', () =>
      void this.refresh()
    );
    this._loadButton = new IconButton(runIcon, 'nbc-toolbar-load', 'Load nbcreds in this kernel (%load_ext nbcreds)', () => {
      const client = this._client;
      if (client && client.status === 'not-loaded') {
        void this._run(() => client.loadExtension());
      }
    });
    this._loadButton.enabled = false;
    this._collapseButton = new IconButton(
      collapseAllIcon,
      'nbc-collapse-all',
      'Collapse all sections',
      () => this._toggleAll(),
      expandAllIcon,
      'Expand all sections'
    );
    this._toolbar.addItem('title', new Widget({ node: el('h2', { class: 'nbc-title' }, 'nbcreds') }));
    this._toolbar.addItem('spacer', Toolbar.createSpacerItem());
    this._toolbar.addItem('refresh', this._refreshButton);
    this._toolbar.addItem('load', this._loadButton);
    this._toolbar.addItem('collapse', this._collapseButton);
    this._content = new Widget();
    this._content.addClass('nbc-content');
    this.addWidget(this._toolbar);
    this.addWidget(this._content);
    this._build();
    tracker.currentChanged.connect((_, nb) => this._follow(nb), this);
    this._follow(tracker.currentWidget);
    this._ticker = setInterval(() => this._tick(), 1000);
  }

  /** For tests and the palette command: the client of the kernel shown, if any. */
  get client(): NbcredsClient | null {
    return this._client;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    clearInterval(this._ticker);
    this._setKernel(null);
    super.dispose();
  }

  async refresh(): Promise<void> {
    const client = this._client;
    if (!client) {
      return;
    }
    if (client.status === 'ready') {
      await this._run(() => client.refresh());
    } else {
      await client.connect();
    }
  }

  protected onAfterShow(msg: Message): void {
    this._client?.setWatch(true);
    void this.refresh();
  }

  protected onAfterHide(msg: Message): void {
    this._client?.setWatch(false);
  }

  // ------------------------------------------------------------------ kernel

  private _follow(nb: NotebookPanel | null): void {
    if (this._session) {
      this._session.kernelChanged.disconnect(this._onKernelChanged, this);
    }
    this._session = nb ? nb.sessionContext : null;
    this._notebookName = nb ? nb.title.label : '';
    if (this._session) {
      this._session.kernelChanged.connect(this._onKernelChanged, this);
      this._setKernel(this._session.session?.kernel ?? null);
    } else {
      this._setKernel(null);
    }
  }

  private _onKernelChanged(_: ISessionContext, change: { newValue: Kernel.IKernelConnection | null }): void {
    this._setKernel(change.newValue);
  }

  private _setKernel(kernel: Kernel.IKernelConnection | null): void {
    if (this._client && this._client.kernel === kernel) {
      return;
    }
    this._client?.dispose();
    this._client = null;
    this._testResults.clear();
    this._closeEditor();
    if (kernel) {
      const client = new NbcredsClient(kernel);
      client.setWatch(this.isVisible);
      client.statusChanged.connect(() => this._render(), this);
      client.stateChanged.connect(() => this._render(), this);
      client.problem.connect((_, message) => this._notify(message, true), this);
      this._client = client;
      // Probe only when seen: a hidden panel must not poke every kernel opened.
      // (A kernel that loads nbcreds announces itself to the client anyway.)
      if (this.isVisible) {
        void client.connect();
      }
    }
    this._render();
  }

  private async _run<T>(action: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await action();
      this._notify('');
      return result;
    } catch (err) {
      this._notify((err as Error).message, true);
      return undefined;
    }
  }

  // ------------------------------------------------------------------ DOM

  private _toggleAll(): void {
    const fold = this._collapsed.size < SECTIONS.length;
    this._collapsed = new Set(fold ? SECTIONS : []);
    this._collapseButton.pressed = fold;
    this._body.querySelectorAll<HTMLElement>('.nbc-section').forEach(section => this._applyFold(section));
  }

  private _applyFold(section: HTMLElement): void {
    const cls = SECTIONS.find(c => section.classList.contains(c));
    const folded = cls !== undefined && this._collapsed.has(cls);
    section.classList.toggle('nbc-collapsed', folded);
    section.querySelector('.nbc-section-toggle')?.setAttribute('aria-expanded', String(!folded));
    const body = section.querySelector<HTMLElement>('.nbc-section-body');
    if (body) {
      body.hidden = folded;
    }
  }

  private _build(): void {
    this._kernelLabel = el('div', { class: 'nbc-kernel' });
    this._content.node.append(
      this._kernelLabel,
      (this._statusNode = el('div', { class: 'nbc-status', role: 'status' })),
      (this._messageNode = el('div', { class: 'nbc-message', role: 'alert' })),
      (this._body = el('div', { class: 'nbc-body' })),
      (this._editorNode = el('div', { class: 'nbc-kv-editor', hidden: '' }))
    );
  }

  private _notify(message: string, isError = false): void {
    this._messageNode.textContent = message;
    this._messageNode.classList.toggle('nbc-error', isError && message !== '');
  }

  private _render(): void {
    const client = this._client;
    this._kernelLabel.textContent = client
      ? `${this._notebookName} · ${client.kernel.name}`
      : '';
    this._body.replaceChildren();
    this._statusNode.replaceChildren();
    this._statusNode.dataset.status = client ? client.status : 'no-kernel';
    this._loadButton.enabled = client !== null && client.status === 'not-loaded';
    if (!client) {
      this._statusNode.append('Open a notebook: this panel shows its kernel’s nbcreds state.');
      this._editorNode.hidden = true;
      return;
    }
    const status: ConnectionStatus = client.status;
    if (status === 'connecting') {
      this._statusNode.append('Asking the kernel…');
    } else if (status === 'loading') {
      this._statusNode.append('Loading nbcreds in the kernel…');
    } else if (status === 'not-loaded') {
      this._statusNode.append(
        el('p', {}, 'This kernel has not loaded nbcreds, so there is nothing to show yet.'),
        button('Load nbcreds in this kernel', 'nbc-load', () => {
          this._run(() => client.loadExtension());
        }, 'Runs %load_ext nbcreds in the kernel', 'accept')
      );
    }
    const state = client.state;
    if (status !== 'ready' || !state) {
      return;
    }
    this._statusNode.append(summary(state));
    if (state.namespace !== this._shownNamespace) {
      // a Test result belongs to the namespace it ran in: a switch clears it
      this._testResults.clear();
      this._shownNamespace = state.namespace;
    }
    this._body.append(
      this._renderNamespace(state),
      this._renderSecrets(state),
      this._renderCredentials(state),
      this._renderKv(state)
    );
    this._tick();
  }

  private _section(title: string, cls: string, state: IState, key: string, ...content: Node[]): HTMLElement {
    const error = state.errors[key];
    const bodyId = `${cls}-body`;
    const toggle = el(
      'button',
      { class: 'nbc-section-toggle', type: 'button', 'aria-expanded': 'true', 'aria-controls': bodyId },
      el('span', { class: 'nbc-caret', 'aria-hidden': 'true' }),
      title
    );
    const section = el(
      'section',
      { class: `nbc-section ${cls}`, 'aria-label': title },
      el('h3', { class: 'nbc-section-title' }, toggle),
      el(
        'div',
        { class: 'nbc-section-body', id: bodyId },
        ...(error ? [el('div', { class: 'nbc-error nbc-section-error', role: 'alert' }, error)] : []),
        ...content
      )
    );
    toggle.addEventListener('click', () => {
      const c = cls as (typeof SECTIONS)[number];
      if (this._collapsed.has(c)) {
        this._collapsed.delete(c);
      } else {
        this._collapsed.add(c);
      }
      this._collapseButton.pressed = this._collapsed.size === SECTIONS.length;
      this._applyFold(section);
    });
    this._applyFold(section);
    return section;
  }

  private _renderNamespace(state: IState): HTMLElement {
    const select = el('select', { class: 'jp-mod-styled nbc-namespace-select', 'aria-label': 'Current namespace' });
    for (const opt of namespaceOptions(state)) {
      const o = el('option', { value: opt.value }, opt.label);
      o.selected = opt.selected;
      select.append(o);
    }
    select.addEventListener('change', () => {
      void this._useNamespace(namespaceFromInput(select.value));
    });
    const input = el('input', {
      class: 'jp-mod-styled nbc-namespace-input',
      type: 'text',
      placeholder: 'company.team',
      'aria-label': 'Other namespace',
      'aria-describedby': 'nbc-namespace-error'
    });
    const fieldError = el('div', { class: 'nbc-error nbc-field-error', id: 'nbc-namespace-error', role: 'alert' });
    const use = button('Use', 'nbc-namespace-use', () => {
      // an empty field does nothing (it never means "switch to the tenant level")
      if (input.value.trim() !== '') {
        void this._useNamespace(namespaceFromInput(input.value), fieldError);
      }
    });
    input.addEventListener('input', () => {
      fieldError.textContent = ''; // a result belongs to the input it answered
    });
    input.addEventListener('keydown', ev => {
      if (ev.key === 'Enter') {
        use.click();
      }
    });
    return this._section(
      'Namespace',
      'nbc-namespace',
      state,
      'namespaces',
      el('div', { class: 'nbc-row' }, select),
      el('div', { class: 'nbc-row nbc-namespace-other' }, input, use),
      fieldError
    );
  }

  private async _useNamespace(namespace: string | null, fieldError?: HTMLElement): Promise<void> {
    const client = this._client;
    if (!client) {
      return;
    }
    if (!fieldError) {
      await this._run(() => client.request('use_namespace', { namespace }));
      return;
    }
    try {
      await client.request('use_namespace', { namespace });
    } catch (err) {
      fieldError.textContent = (err as Error).message; // next to the field at fault
    }
  }

  private _renderSecrets(state: IState): HTMLElement {
    // stacked rows, not a table: at 250 px a name, its source and level never overflow
    const rows = state.secrets.map(s =>
      el(
        'li',
        { class: 'nbc-secret-row', 'data-name': s.name },
        el('div', { class: 'nbc-row' }, el('span', { class: 'nbc-name' }, s.name)),
        el(
          'div',
          { class: 'nbc-row nbc-meta' },
          el('span', { class: 'nbc-secret-source', title: 'source' }, s.source),
          el('span', { class: 'nbc-secret-level', title: 'level' }, levelLabel(s.level, s.inherited))
        )
      )
    );
    return this._section(
      'Secrets',
      'nbc-secrets',
      state,
      'secrets',
      rows.length
        ? el('ul', { class: 'nbc-list', 'aria-label': 'Secrets' }, ...rows)
        : el('p', { class: 'nbc-empty' }, 'No secret visible from this namespace.')
    );
  }

  private _renderCredentials(state: IState): HTMLElement {
    const client = this._client!;
    const rows = state.credentials.map(c => {
      const result = this._testResults.get(c.name);
      const resultNode = el('div', { class: 'nbc-test-result' });
      if (result) {
        resultNode.textContent = `${result.success ? '✓' : '✗'} ${result.message}`;
        resultNode.dataset.success = String(result.success);
      }
      const test = button('Test', 'nbc-test', async () => {
        test.disabled = true;
        resultNode.textContent = 'testing…';
        delete resultNode.dataset.success;
        const r = await this._run(() => client.request('test_credential', { name: c.name }));
        if (r) {
          this._testResults.set(c.name, r);
          // the test fetched a token: its status and expiry changed
          await this._run(() => client.request('state', {}));
        } else {
          resultNode.textContent = '';
        }
        test.disabled = false;
      }, `Fetch a token for ${c.name} and report whether it worked`);
      return el(
        'div',
        { class: 'nbc-credential-row', 'data-name': c.name },
        el(
          'div',
          { class: 'nbc-row' },
          el('span', { class: 'nbc-name' }, c.name),
          el('span', { class: 'nbc-type' }, c.type),
          el('span', { class: 'nbc-actions' }, test)
        ),
        el(
          'div',
          { class: 'nbc-row nbc-meta' },
          el('span', { class: 'nbc-cred-status' }),
          el('span', {}, levelLabel(c.level, c.inherited))
        ),
        resultNode
      );
    });
    return this._section(
      'Credentials',
      'nbc-credentials',
      state,
      'credentials',
      ...(rows.length ? rows : [el('p', { class: 'nbc-empty' }, 'No credential defined for this namespace.')])
    );
  }

  private _renderKv(state: IState): HTMLElement {
    const client = this._client!;
    if (state.namespace === null) {
      return this._section(
        'KV store',
        'nbc-kv',
        state,
        'kv',
        el('p', { class: 'nbc-empty' }, 'KV state belongs to a namespace: choose one above.')
      );
    }
    const rows = state.kv.map(k =>
      el(
        'div',
        { class: 'nbc-kv-row', 'data-key': k.key },
        el(
          'div',
          { class: 'nbc-row' },
          el('span', { class: 'nbc-name' }, k.key),
          el('span', { class: 'nbc-type' }, k.type),
          el(
            'span',
            { class: 'nbc-actions' },
            button('Edit', 'nbc-kv-edit', () => void this._openEditor(k.key), `Edit ${k.key}`),
            button('Delete', 'nbc-kv-delete', async () => {
              const answer = await showDialog({
                title: 'Delete KV key',
                body: `Delete ${k.key} from namespace ${state.namespace ?? 'tenant'}?`,
                buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
              });
              if (answer.button.accept) {
                await this._run(() => client.request('kv_delete', { key: k.key, revision: k.revision }));
              }
            }, `Delete ${k.key}`)
          )
        ),
        el(
          'div',
          { class: 'nbc-row nbc-meta' },
          el('span', { class: 'nbc-expiry' }),
          el('span', {}, k.revision === null ? '' : `revision ${k.revision}`)
        )
      )
    );
    const add = button('New key', 'nbc-kv-new', () => this._openEditor(null));
    return this._section(
      'KV store',
      'nbc-kv',
      state,
      'kv',
      ...(rows.length ? rows : [el('p', { class: 'nbc-empty' }, 'No KV key in this namespace.')]),
      el('div', { class: 'nbc-row' }, add)
    );
  }

  /** Update expiry texts every second without re-rendering (keeps focus and edits). */
  private _tick(): void {
    const client = this._client;
    const state = client?.state;
    if (!client || !state || client.status !== 'ready') {
      return;
    }
    const elapsed = (performance.now() - client.stateTime) / 1000;
    this._body.querySelectorAll<HTMLElement>('.nbc-credential-row').forEach((row, i) => {
      const c = state.credentials[i];
      if (!c) {
        return;
      }
      const status = row.querySelector('.nbc-cred-status') as HTMLElement;
      const s = credentialStatus(c, elapsed);
      status.textContent = credentialStatusText(c, elapsed);
      status.dataset.status = s;
      status.title = status.textContent;
    });
    this._body.querySelectorAll<HTMLElement>('.nbc-kv-row').forEach((row, i) => {
      const k = state.kv[i];
      if (k) {
        (row.querySelector('.nbc-expiry') as HTMLElement).textContent = formatExpiry(k.expires_in, elapsed);
      }
    });
  }

  // ------------------------------------------------------------------ KV editor

  private async _openEditor(key: string | null): Promise<void> {
    const client = this._client;
    if (!client) {
      return;
    }
    let text = '';
    let type: KvType = 'STRING';
    let revision = 0; // what the user saw: 0 for a new key
    if (key !== null) {
      const value = await this._run(() => client.request('kv_get', { key }));
      if (!value) {
        return;
      }
      text = value.text;
      type = value.type;
      revision = value.revision ?? 0;
    }
    const keyInput = el('input', {
      class: 'jp-mod-styled nbc-kv-key',
      type: 'text',
      'aria-label': 'Key',
      placeholder: 'key',
      'aria-describedby': 'nbc-kv-key-error'
    });
    keyInput.value = key ?? '';
    keyInput.readOnly = key !== null;
    const typeSelect = el('select', { class: 'jp-mod-styled nbc-kv-type', 'aria-label': 'Type' });
    for (const t of kvTypeChoices(client.state, type)) {
      const o = el('option', { value: t }, t);
      o.selected = t === type;
      typeSelect.append(o);
    }
    const area = el('textarea', {
      class: 'jp-mod-styled nbc-kv-text',
      rows: '4',
      'aria-label': 'Value',
      'aria-describedby': 'nbc-kv-value-error'
    });
    area.value = text;
    const keyError = el('div', { class: 'nbc-error nbc-field-error nbc-kv-key-error', id: 'nbc-kv-key-error', role: 'alert' });
    const valueError = el('div', { class: 'nbc-error nbc-field-error nbc-kv-value-error', id: 'nbc-kv-value-error', role: 'alert' });
    const error = el('div', { class: 'nbc-error nbc-kv-error', role: 'alert' });
    const clear = (): void => {
      keyError.textContent = '';
      valueError.textContent = '';
      error.textContent = '';
    };
    keyInput.addEventListener('input', clear);
    typeSelect.addEventListener('change', clear);
    area.addEventListener('input', clear);
    const save = button('Save', 'nbc-kv-save', async () => {
      const k = keyInput.value.trim();
      const t = typeSelect.value as KvType;
      if (!k) {
        keyError.textContent = 'a key is needed';
        return;
      }
      const parsed = parseKvText(t, area.value);
      if (!parsed.ok) {
        valueError.textContent = parsed.message;
        return;
      }
      if (save.disabled) {
        return; // a double click: the first save is on its way
      }
      save.disabled = true;
      let seen = revision;
      try {
        for (;;) {
          try {
            await client.request('kv_set', { key: k, value: parsed.value, type: t, revision: seen });
            break;
          } catch (err) {
            if (!(err instanceof RequestError) || (err.type !== 'KVConflict' && err.type !== 'KVExists')) {
              throw err;
            }
            // someone changed the key, or it exists: ask, never overwrite silently
            const answer = await showDialog({
              title: err.type === 'KVExists' ? `${k} already exists` : `${k} changed`,
              body: err.message,
              buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Replace' })]
            });
            if (!answer.button.accept) {
              error.textContent = err.message;
              return;
            }
            const current = err.detail.current_revision;
            seen = typeof current === 'number' ? current : 0;
          }
        }
        this._notify('');
        this._notify(`saved ${k}`);
        this._closeEditor();
      } catch (err) {
        error.textContent = (err as Error).message;
      } finally {
        save.disabled = false;
      }
    }, '', 'accept');
    const cancel = button('Cancel', 'nbc-kv-cancel', () => this._closeEditor());
    this._editorNode.replaceChildren(
      el('h3', {}, key === null ? 'New KV key' : `Edit ${key}`),
      el('div', { class: 'nbc-row' }, keyInput, typeSelect),
      keyError,
      area,
      valueError,
      error,
      el('div', { class: 'nbc-row' }, save, cancel)
    );
    this._editorNode.hidden = false;
    (key === null ? keyInput : area).focus();
  }

  private _closeEditor(): void {
    if (this._editorNode) {
      this._editorNode.replaceChildren();
      this._editorNode.hidden = true;
    }
  }

  private _toolbar: Toolbar;
  private _refreshButton: IconButton;
  private _loadButton: IconButton;
  private _collapseButton: IconButton;
  private _content: Widget;
  private _collapsed = new Set<(typeof SECTIONS)[number]>();
  private _shownNamespace: string | null | undefined = undefined;
  private _session: ISessionContext | null = null;
  private _notebookName = '';
  private _client: NbcredsClient | null = null;
  private _ticker: ReturnType<typeof setInterval>;
  private _testResults = new Map<string, { success: boolean; message: string }>();
  private _kernelLabel!: HTMLElement;
  private _statusNode!: HTMLElement;
  private _messageNode!: HTMLElement;
  private _body!: HTMLElement;
  private _editorNode!: HTMLElement;
}
