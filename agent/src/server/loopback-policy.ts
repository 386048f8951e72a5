/**
 * Who may talk to the agent. A page on another site can reach 127.0.0.1 from the user's
 * browser, and a DNS-rebinding attack can make such a page look same-origin; so every
 * request must name the agent by a loopback host and its own port (Host), and every
 * WebSocket must come from the agent's own origin (Origin).
 */

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export class LoopbackPolicy {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;

  constructor(port: number) {
    this.hosts = new Set(LOOPBACK_NAMES.map((name) => `${name}:${port}`));
    this.origins = new Set(LOOPBACK_NAMES.map((name) => `https://${name}:${port}`));
  }

  hostAllowed(host: string | undefined): boolean {
    return host !== undefined && this.hosts.has(host.toLowerCase());
  }

  originAllowed(origin: string | undefined): boolean {
    return origin !== undefined && this.origins.has(origin.toLowerCase());
  }
}
