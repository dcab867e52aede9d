/**
 * SIGHUP asks the service to re-read its config. Its default action ends the process, so it is
 * caught from the first moment of `serve` (this module imports nothing, so that moment comes
 * before the slow imports and the keyring probe); a reload asked for while the service starts
 * runs once, when it is up.
 */
export class HangupReloads {
  private reload: (() => void) | undefined;
  private asked = false;

  constructor() {
    process.on('SIGHUP', () => {
      if (this.reload) this.reload();
      else this.asked = true;
    });
  }

  /** The service is up: reloads go to `reload` from now on, starting with one asked for meanwhile. */
  ready(reload: () => void): void {
    this.reload = reload;
    if (this.asked) {
      this.asked = false;
      reload();
    }
  }
}
