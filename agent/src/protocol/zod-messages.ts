/**
 * zod's messages in English. StoreSync's schemas use zod's small build ("mini"), which bundles
 * only the validators a schema uses (the full build costs every `storesync` run ~60 ms to load
 * 0.6 MB, and the pane as much to download) and has no messages of its own until a locale is
 * configured. Every module that defines schemas imports this one first.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());
