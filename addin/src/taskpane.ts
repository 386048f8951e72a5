/** The task pane: agent events in → view model → DOM; button clicks → commands out. */
import { FULL_SYNC } from '../../agent/src/protocol/index.js';
import { AgentConnection } from './connection.js';
import { detectHost } from './outlook.js';
import { PaneView } from './view.js';
import { connectionChanged, initialState, type PaneState, reduce } from './view-model.js';

/** Relative times ("2 min ago") and rates stay current without events. */
const CLOCK_TICK_MS = 15_000;

function main(): void {
  const root = document.getElementById('app');
  if (!root) return;
  let state: PaneState = initialState();
  let frame = 0;
  const view = new PaneView(root, {
    syncNow: () => {
      connection.send({ type: 'sync', flags: FULL_SYNC });
    },
  });
  // Many events can arrive per frame; draw once per animation frame.
  const render = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      view.render(state, Date.now());
    });
  };
  const connection = AgentConnection.forThisPage({
    onMessage: (message) => {
      state = reduce(state, message);
      render();
    },
    onState: (connectionState) => {
      state = connectionChanged(state, connectionState);
      render();
    },
  });
  view.render(state, Date.now());
  connection.start();
  setInterval(render, CLOCK_TICK_MS);
  void detectHost().then((host) => {
    view.setHost(host.label);
    document.body.classList.toggle('in-outlook', host.inOutlook);
    render();
  });
}

main();
