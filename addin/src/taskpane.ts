/** The task pane: agent messages in → view model → DOM; clicks → commands out. */
import { FULL_SYNC } from '../../agent/src/protocol/index.js';
import { AgentConnection } from './connection.js';
import { browserCredentials } from './pane-credentials.js';
import { detectHost } from './outlook.js';
import { PaneView } from './view.js';
import {
  connectionChanged,
  initialState,
  pairingChanged,
  type PaneState,
  reduce,
  syncRequested,
} from './view-model.js';

/** Relative times ("2 min ago") and rates stay current between events. */
const CLOCK_TICK_MS = 15_000;

function main(): void {
  const root = document.getElementById('app');
  if (!root) return;
  let state: PaneState = initialState();
  let frame = 0;

  const update = (next: PaneState) => {
    state = next;
    // Many events can arrive per frame; draw once per animation frame.
    if (!frame) {
      frame = requestAnimationFrame(() => {
        frame = 0;
        view.render(state, Date.now());
      });
    }
  };

  const connection = AgentConnection.forThisPage(
    {
      onMessage: (message) => {
        if (message.type === 'protocolError')
          console.warn('StoreSync: the agent did not understand a frame:', message.message);
        update(reduce(state, message));
      },
      onState: (connectionState) => update(connectionChanged(state, connectionState)),
      onPairing: (result) => update(pairingChanged(state, result)),
    },
    browserCredentials(),
  );

  const view = new PaneView(root, {
    syncNow: () => {
      const requestId = connection.send({ type: 'sync', flags: FULL_SYNC });
      if (requestId) update(syncRequested(state, requestId));
    },
    cancel: (syncId) => {
      connection.send({ type: 'cancel', syncId });
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
    update(state);
  });
}

main();
