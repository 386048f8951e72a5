/** pino-roll ships no types; this covers the part the agent uses (see agent/src/logging.ts). */
declare module 'pino-roll' {
  /** A sonic-boom stream; `file` is the one being written, which changes on rotation. */
  export interface RollingStream {
    readonly file: string;
    write(data: string): boolean;
    flushSync(): void;
    /** Closes the current file and goes on in `file` (synchronously in sync mode). */
    reopen(file: string): void;
    end(): void;
    on(event: 'error', listener: (err: Error) => void): this;
    /** (Re)opened: after a rotation, `file` is the new file. */
    on(event: 'ready', listener: () => void): this;
    once(event: 'close' | 'finish', listener: () => void): this;
  }
  export interface PinoRollOptions {
    file: string;
    extension?: string;
    /** A number is megabytes; strings take a k/m/g/b unit. */
    size?: number | string;
    frequency?: 'daily' | 'hourly' | number;
    limit?: { count: number; removeOtherLogFiles?: boolean };
    mkdir?: boolean;
    symlink?: boolean;
    /** Passed to sonic-boom: write each line with fs.writeSync. */
    sync?: boolean;
  }
  export default function pinoRoll(options: PinoRollOptions): Promise<RollingStream>;
}
