/** The task pane: agent messages in → view model → DOM; clicks → commands out. */
import { FULL_SYNC, SNAPSHOT_HISTORY } from '../../agent/src/protocol/index.js';
import { AgentConnection } from './connection.js';
import { itemNotification } from './item-notification.js';
import { detectHost, OutlookItem } from './outlook.js';
import { browserCredentials } from './pane-credentials.js';
import { syncMode } from './sync-modes.js';
import { PaneView } from './view.js';
import {
  cancelRequested,
  connectionChanged,
  initialState,
  itemSelected,
  lookupRequested,
  pairingChanged,
  type PaneState,
  reduce,
  syncRequested,
} from './view-model.js';

/** Relative times ("2 min ago") stay current between events. */
const CLOCK_TICK_MS = 15_000;

function main(): void {
  const root = document.getElementById('app');
  if (!root) return;
  let state: PaneState = initialState();
  let frame = 0;
  let outlook: OutlookItem | null = null;

  const update = (next: PaneState) => {
    state = next;
    // Many events can arrive per frame; draw once per animation frame.
    if (!frame) {
      frame = requestAnimationFrame(() => {
        frame = 0;
        view.render(state, Date.now());
        outlook?.show(itemNotification(state));
      });
    }
  };

  /** Asks the agent where the selected message is stored, when there is one to ask about. */
  const lookUpItem = () => {
    if (state.item.internetMessageId === null || state.pairing !== 'paired') return;
    if (state.item.status !== 'pending')
      update({ ...state, item: { ...state.item, status: 'pending' } });
    const requestId = connection.send({
      type: 'lookupMessage',
      internetMessageId: state.item.internetMessageId,
    });
    update(lookupRequested(state, requestId));
  };

  const connection = AgentConnection.forThisPage(
    {
      onMessage: (message) => {
        if (message.type === 'protocolError')
          console.warn('StoreSync: the agent did not understand a frame:', message.message);
        update(reduce(state, message));
        if (message.type === 'done') {
          // The agent's own record of the runs (and of ones this pane did not see start).
          connection.send({ type: 'getHistory', limit: SNAPSHOT_HISTORY });
          // The run may have stored the message open in Outlook.
          lookUpItem();
        }
      },
      onState: (connectionState) => update(connectionChanged(state, connectionState)),
      onPairing: (result) => {
        update(pairingChanged(state, result));
        if (result.paired) lookUpItem();
      },
    },
    browserCredentials(),
  );

  const view = new PaneView(root, {
    syncNow: (mode) => {
      const requestId = connection.send({ type: 'sync', flags: syncMode(mode).flags });
      if (requestId) update(syncRequested(state, requestId));
    },
    cancel: (syncId) => {
      if (connection.send({ type: 'cancel', syncId })) update(cancelRequested(state, syncId));
    },
    retrySync: (error) => {
      const requestId = connection.send({
        type: 'sync',
        ...(error.accountId ? { accountId: error.accountId } : {}),
        flags: { ...(error.flags ?? FULL_SYNC), onDemand: true },
      });
      if (requestId) update(syncRequested(state, requestId));
    },
    retry: () => connection.retryNow(),
    pair: (code) => {
      connection.pair(code);
    },
  });

  view.render(state, Date.now());
  connection.start();
  setInterval(() => update(state), CLOCK_TICK_MS);
  // Back from sleep or a hidden tab: do not wait out the backoff.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') connection.retryNow();
  });
  window.addEventListener('online', () => connection.retryNow());

  void detectHost().then((host) => {
    view.setHost(host.label);
    document.documentElement.classList.toggle('in-outlook', host.inOutlook);
    if (host.inOutlook) {
      outlook = new OutlookItem();
      outlook.watch((item) => {
        update(itemSelected(state, item));
        lookUpItem();
      });
    }
    update(state);
  });
}

main();
