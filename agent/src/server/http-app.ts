/**
 * The agent's HTTP surface: the task pane and its assets, office.js, /healthz and the
 * token-guarded /api, behind the Host check and a strict Content-Security-Policy (only our
 * own origin, plus the Outlook origins that may frame the pane).
 */
import express from 'express';
import helmet from 'helmet';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { AGENT_VERSION, PANE_DIR } from '../package-info.js';
import type { LoopbackPolicy } from './loopback-policy.js';
import type { OneTimeKind, PairingStore } from './pairing.js';

export interface HttpAppDeps {
  policy: LoopbackPolicy;
  pairing: PairingStore;
  /** What `GET /api/status` answers: the pane's snapshot plus facts about the agent. */
  status(): unknown;
}

/** The pane's own files: the only ones a public page (Outlook on the web) may preflight for. */
const PANE_RESOURCE = /^\/(?:taskpane[.\w-]*\.(?:html|js|css)|assets\/[\w.-]+|office\/.+)$/;

/** Outlook on the web and the new Outlook host the pane in an iframe of these origins. */
export const OUTLOOK_FRAME_ANCESTORS = [
  'https://outlook.office.com',
  'https://outlook.office365.com',
  'https://outlook.live.com',
  'https://outlook.cloud.microsoft',
  'https://*.outlook.com',
];

export function createHttpApp({ policy, pairing, status }: HttpAppDeps): express.Express {
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

  // Chromium's Private Network Access: a page of a public origin (Outlook on the web) that
  // loads the pane from loopback first asks whether it may. Only the pane's files say yes,
  // and only to Outlook's origins; /api and /ws never do.
  app.options(/.*/, (req, res) => {
    const origin = req.headers.origin;
    if (
      req.headers['access-control-request-private-network'] === 'true' &&
      PANE_RESOURCE.test(req.path) &&
      origin !== undefined &&
      isOutlookOrigin(origin)
    ) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Private-Network', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'GET');
      res.setHeader('Vary', 'Origin');
      res.status(204).end();
      return;
    }
    res.status(403).type('text/plain').send('Preflight not allowed\n');
  });

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, version: AGENT_VERSION });
  });

  // The API is for the CLI and scripts on this machine: a token always, and never a browser
  // page of another origin (no CORS headers are ever sent for it).
  const api = express.Router();
  api.use((req, res, next) => {
    const origin = req.headers.origin;
    if (origin !== undefined && !policy.originAllowed(origin)) {
      res.status(403).json({ error: { code: 'ORIGIN_REFUSED', message: 'cross-origin request' } });
      return;
    }
    const token = bearerToken(req.headers.authorization);
    if (!token || !pairing.verify(token)) {
      res
        .status(401)
        .setHeader('WWW-Authenticate', 'Bearer realm="storesync"')
        .json({ error: { code: 'UNAUTHORIZED', message: 'a valid token is required' } });
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.locals.cli = pairing.isCliToken(token);
    next();
  });
  api.get('/status', (_req, res) => {
    res.json(status());
  });
  // One-time secrets for pairing a pane: only the CLI (the token in the agent's dataDir) may
  // mint them, so a paired pane cannot pair others.
  api.post('/pairing', express.json({ limit: '1kb' }), (req, res) => {
    if (res.locals.cli !== true) {
      res.status(403).json({ error: { code: 'FORBIDDEN', message: 'only the CLI may pair' } });
      return;
    }
    const kind = (req.body as { kind?: unknown } | undefined)?.kind;
    if (kind !== 'code' && kind !== 'link') {
      res
        .status(400)
        .json({ error: { code: 'BAD_REQUEST', message: 'kind must be "code" or "link"' } });
      return;
    }
    res.json(pairing.issue(kind as OneTimeKind));
  });
  api.get('/pairing/clients', (_req, res) => {
    res.json({ clients: pairing.list() });
  });
  api.delete('/pairing/clients', (_req, res) => {
    if (res.locals.cli !== true) {
      res.status(403).json({ error: { code: 'FORBIDDEN', message: 'only the CLI may unpair' } });
      return;
    }
    res.json({ revoked: pairing.revokeAll() });
  });
  api.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such API' } });
  });
  app.use('/api', api);

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
  app.use(
    express.static(PANE_DIR, {
      index: false,
      fallthrough: true,
      maxAge: 0,
      setHeaders: (res, file) => {
        // Outlook on the web loads the pane from its public origin: PNA wants this answer on
        // the response too, not only on the preflight.
        if (PANE_RESOURCE.test('/' + path.relative(PANE_DIR, file).split(path.sep).join('/')))
          res.setHeader('Access-Control-Allow-Private-Network', 'true');
      },
    }),
  );
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found\n');
  });
  return app;
}

function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

/** Whether an origin is one of Outlook's (wildcards in OUTLOOK_FRAME_ANCESTORS match one label). */
export function isOutlookOrigin(origin: string): boolean {
  return OUTLOOK_FRAME_ANCESTORS.some((pattern) => {
    if (!pattern.includes('*')) return origin === pattern;
    const [scheme, host] = pattern.split('://*.');
    return (
      origin.startsWith(`${scheme}://`) &&
      new RegExp(`^${scheme}://[a-z0-9-]+\\.${host!.replace(/\./g, '\\.')}$`).test(origin)
    );
  });
}
