/**
 * The choices of the "Sync now" split button: MAPI's MAPISIB direction flags in the
 * combinations people ask for. Every one is a user's request (onDemand), so it pre-empts
 * background work.
 */
import { FULL_SYNC, type SyncFlags } from '../../agent/src/protocol/index.js';

export type SyncModeId = 'full' | 'download' | 'upload' | 'headers';

export interface SyncMode {
  id: SyncModeId;
  label: string;
  description: string;
  flags: SyncFlags;
}

const NONE = {
  uploadHierarchy: false,
  downloadHierarchy: false,
  uploadContents: false,
  downloadContents: false,
  headersOnly: false,
  onDemand: true,
} as const satisfies SyncFlags;

export const SYNC_MODES: readonly SyncMode[] = [
  {
    id: 'full',
    label: 'Full sync',
    description: 'Both ways: folders, messages and flags',
    flags: FULL_SYNC,
  },
  {
    id: 'download',
    label: 'Download only',
    description: 'New mail and changes from the server',
    flags: { ...NONE, downloadHierarchy: true, downloadContents: true },
  },
  {
    id: 'upload',
    label: 'Upload only',
    description: 'Local changes to the server',
    flags: { ...NONE, uploadHierarchy: true, uploadContents: true },
  },
  {
    id: 'headers',
    label: 'Headers only',
    description: 'Headers now, bodies when a message is opened',
    flags: { ...NONE, downloadHierarchy: true, downloadContents: true, headersOnly: true },
  },
];

export function syncMode(id: SyncModeId): SyncMode {
  return SYNC_MODES.find((m) => m.id === id)!;
}

/** Which mode a run's flags are, for the history list; null for other combinations. */
export function modeOfFlags(flags: SyncFlags): SyncMode | null {
  return (
    SYNC_MODES.find((m) =>
      (Object.keys(NONE) as Array<keyof SyncFlags>)
        .filter((k) => k !== 'onDemand')
        .every((k) => m.flags[k] === flags[k]),
    ) ?? null
  );
}
