/**
 * The agent's HTTP surface: the task pane and its assets, office.js, and /healthz, behind the
 * Host check and a strict Content-Security-Policy (only our own origin, plus the Outlook
 * origins that may frame the pane).
 */
import express from 'express';
import helmet from 'helmet';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { AGENT_VERSION, PANE_DIR } from '../package-info.js';
import type { LoopbackPolicy } from './loopback-policy.js';

/** Outlook on the web and the new Outlook host the pane in an iframe of these origins. */
export const OUTLOOK_FRAME_ANCESTORS = [
  'https://outlook.office.com',
  'https://outlook.office365.com',
  'https://outlook.live.com',
  'https://outlook.cloud.microsoft',
  'https://*.outlook.com',
];

export function createHttpApp(policy: LoopbackPolicy): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', true);

  app.use((req, res, next) => {
    if (policy.hostAllowed(req.headers.host)) return next();
    res.status(403).type('text/plain').send('Host not allowed: use https://localhost\n');
  });

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          fontSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'self'", ...OUTLOOK_FRAME_ANCESTORS],
        },
      },
      // Outlook frames the pane: X-Frame-Options would forbid it; frame-ancestors governs instead.
      frameguard: false,
      crossOriginEmbedderPolicy: false,
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, version: AGENT_VERSION });
  });

  app.get('/', (_req, res) => {
    res.redirect(302, '/taskpane.html');
  });

  // Outlook loads the manifest's icons from its own origin.
  app.use('/assets', (_req, res, next) => {
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    next();
  });

  if (!existsSync(path.join(PANE_DIR, 'taskpane.html'))) {
    app.use((_req, res) => {
      res.status(503).type('text/plain').send('The task pane is not built: run `npm run build`.\n');
    });
    return app;
  }
  app.use(express.static(PANE_DIR, { index: false, fallthrough: true, maxAge: 0 }));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found\n');
  });
  return app;
}
