/** The data dir holds state, certificates and logs: the agent cannot run without writing it. */
import { randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { errorText, fail, ok, type DoctorCheck } from './types.js';

const HINT =
  'Set "dataDir" in the config to a directory this user can write, or fix its permissions and free space.';

export async function checkDataDir(dataDir: string): Promise<DoctorCheck> {
  if (!existsSync(dataDir)) {
    // The doctor changes nothing: a missing dir is fine if the agent will be able to create it.
    let parent = path.dirname(dataDir);
    while (!existsSync(parent) && path.dirname(parent) !== parent) parent = path.dirname(parent);
    try {
      await fs.access(parent, constants.W_OK);
      return ok('dataDir', `Data directory ${dataDir} will be created at the first start`);
    } catch (err) {
      return fail(
        'dataDir',
        `Data directory ${dataDir} cannot be created: ${errorText(err)}`,
        HINT,
      );
    }
  }
  // Write and remove a file, as the agent will: access(W_OK) says nothing of a full disk.
  const probe = path.join(dataDir, `.doctor-${randomBytes(4).toString('hex')}`);
  try {
    await fs.writeFile(probe, 'storesync doctor\n');
    await fs.rm(probe);
    return ok('dataDir', `Data directory writable (${dataDir})`);
  } catch (err) {
    return fail('dataDir', `Data directory not writable (${dataDir}): ${errorText(err)}`, HINT);
  }
}
