/**
 * The save guard's notification: after each save of a notebook (manual or
 * autosave, successful or refused) ask the server's guard for its newest
 * report on that file and, when it found something, show a JupyterLab
 * notification saying where, what kind, what was done and how to configure it.
 *
 * Polling a small endpoint after `saveState` (instead of reading the save's
 * answer) works for autosaves and refused saves alike: the contents API's
 * answer is a fixed model JupyterLab parses, and a refused save has none.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { guardDetails, guardMessage, IGuardReport, isNotable } from './guardReport';

export const GUARD_ENDPOINT = 'nbcreds/guard/last';

async function fetchReport(path: string): Promise<IGuardReport | null> {
  const settings = ServerConnection.makeSettings();
  const url =
    settings.baseUrl.replace(/\/?$/, '/') +
    `${GUARD_ENDPOINT}?operation=save&path=${encodeURIComponent(path)}`;
  const response = await ServerConnection.makeRequest(url, { method: 'GET' }, settings);
  if (!response.ok) {
    return null; // a server without the guard (404): nothing to say
  }
  const body = (await response.json()) as { report: IGuardReport | null };
  return body.report;
}

function detailsBody(report: IGuardReport): Widget {
  const node = document.createElement('ul');
  node.className = 'nbc-guard-details';
  for (const line of guardDetails(report)) {
    const item = document.createElement('li');
    item.textContent = line;
    node.appendChild(item);
  }
  return new Widget({ node });
}

const RELOAD = 'Reload from disk';
const RELOAD_CAPTION = 'Show the saved (masked) file instead of the values still on the page';

export function showReport(report: IGuardReport, context?: NotebookPanel['context']): string {
  const { type, message } = guardMessage(report);
  // a notification's action closes it: the details dialog offers the reload again
  const canReload = !!context && report.findings.some(f => f.action === 'masked');
  const actions: Notification.IAction[] = [
    {
      label: 'Details',
      caption: 'Where, what kind, what was done, and how to configure the save guard',
      callback: () => {
        const buttons = canReload
          ? [Dialog.cancelButton({ label: RELOAD, caption: RELOAD_CAPTION }), Dialog.okButton()]
          : [Dialog.okButton()];
        void showDialog({
          title: `nbcreds save guard: ${report.path}`,
          body: detailsBody(report),
          buttons
        }).then(result => {
          if (canReload && result.button.label === RELOAD) {
            void context?.revert();
          }
        });
      }
    }
  ];
  if (canReload) {
    actions.push({
      label: RELOAD,
      caption: RELOAD_CAPTION,
      callback: () => {
        void context?.revert();
      }
    });
  }
  return Notification.emit(message, type, { autoClose: false, actions });
}

const guardPlugin: JupyterFrontEndPlugin<void> = {
  id: 'nbcreds:save-guard',
  description: 'Tells the user what the nbcreds save guard did with a saved notebook.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const lastShown = new Map<string, number>();
    tracker.widgetAdded.connect((_sender, panel) => {
      const context = panel.context;
      context.saveState.connect((_ctx, state) => {
        if (state !== 'completed' && state !== 'failed') {
          return;
        }
        const path = context.localPath || context.path;
        fetchReport(path)
          .then(report => {
            if (report && isNotable(report, lastShown.get(path) ?? 0)) {
              lastShown.set(path, report.id);
              showReport(report, context);
            }
          })
          .catch(reason => console.warn('nbcreds: cannot read the save guard report', reason));
      });
    });
  }
};

export default guardPlugin;
