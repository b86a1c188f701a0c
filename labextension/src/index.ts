/**
 * nbcreds JupyterLab extension: a left-sidebar panel over the active notebook's
 * kernel, and the palette command that opens it.
 */

import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { lockIcon } from '@jupyterlab/ui-components';

import guardPlugin from './guard';
import { NbcredsPanel } from './panel';

export const COMMAND_OPEN = 'nbcreds:open';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbcreds:sidebar',
  description: 'The kernel’s nbcreds namespaces, secret names, credentials and KV store in a sidebar.',
  autoStart: true,
  requires: [INotebookTracker, ILabShell],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    shell: ILabShell,
    palette: ICommandPalette | null
  ) => {
    const panel = new NbcredsPanel(tracker);
    panel.title.icon = lockIcon;
    shell.add(panel, 'left', { rank: 850 });

    app.commands.addCommand(COMMAND_OPEN, {
      label: 'nbcreds: Show Secrets, Credentials and KV',
      caption: 'Open the nbcreds sidebar for the active notebook’s kernel',
      icon: lockIcon,
      execute: () => {
        shell.activateById(panel.id);
      }
    });
    palette?.addItem({ command: COMMAND_OPEN, category: 'nbcreds' });
  }
};

export default [plugin, guardPlugin];
