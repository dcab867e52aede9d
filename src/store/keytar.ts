import { StoreError, type StoreErrorCode } from './token-store.js';
import { cliCommand } from '../hints/cli-command.js';

/** The part of keytar's API the keyring store uses. */
export interface Keytar {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
  findCredentials(service: string): Promise<Array<{ account: string; password: string }>>;
}

// A variable specifier keeps tsc from requiring keytar's types: it is an optional dependency.
const KEYTAR = 'keytar';
let loading: Promise<Keytar> | undefined;

/** keytar, or StoreError('unavailable') when it is not installed or its native module does not load. */
export function loadKeytar(): Promise<Keytar> {
  loading ??= import(KEYTAR).then(
    (mod: { default?: Keytar } & Partial<Keytar>) => (mod.default ?? mod) as Keytar,
    (err: unknown) => {
      throw new StoreError(
        'unavailable',
        `keytar could not be loaded (${errorMessage(err)}), so the system keyring cannot be used. ` +
          'keytar is an optional dependency with a native module: on Debian/Ubuntu run ' +
          '`apt-get install libsecret-1-dev` before `npm install` so that it can be built, ' +
          'or set settings.oauth.store to "file".',
      );
    },
  );
  return loading;
}

export const HEADLESS_RECIPE =
  `dbus-run-session -- sh -c 'printf %s "$KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets; ${cliCommand('serve')}'`;

/** Maps a keytar/libsecret failure to a StoreError that says what to do. */
export function keyringError(
  err: unknown,
  service: string,
  doing: string,
  otherwise: StoreErrorCode = 'unavailable',
): StoreError {
  if (err instanceof StoreError) return err;
  const message = errorMessage(err);
  if (/\blocked\b|IsLocked/i.test(message)) return lockedError(service, message);
  if (
    /autolaunch|could not connect|not provided by any \.service files|ServiceUnknown|NoReply|Connection refused|disconnected|DBus|D-Bus/i.test(
      message,
    )
  ) {
    return new StoreError(
      'unavailable',
      `could not reach a Secret Service on the session D-Bus while ${doing} (${message}). The keyring store needs one, ` +
        'such as gnome-keyring, running on the session D-Bus (DBUS_SESSION_BUS_ADDRESS). ' +
        `Headless (server, CI): ${HEADLESS_RECIPE}. Or set settings.oauth.store to "file".`,
    );
  }
  if (/Object does not exist at path/i.test(message)) {
    return new StoreError(
      'unavailable',
      `the Secret Service has no default keyring to store in while ${doing} (${message}). Create or unlock ` +
        `a login keyring (headless: ${HEADLESS_RECIPE}), or set settings.oauth.store to "file".`,
    );
  }
  return new StoreError(otherwise, `the system keyring failed while ${doing}: ${message}`);
}

/** keytar calls can hang when the bus misbehaves or a keyring prompt waits for a user: give up after `ms`. */
export async function withTimeout<T>(work: Promise<T>, ms: number, doing: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new StoreError(
            'unavailable',
            `the Secret Service did not answer within ${ms} ms while ${doing}; check that the session D-Bus ` +
              '(DBUS_SESSION_BUS_ADDRESS) and its Secret Service (e.g. gnome-keyring) are healthy, and that no ' +
              'keyring prompt is waiting for an answer.',
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function lockedError(service: string, detail: string): StoreError {
  return new StoreError(
    'locked',
    `the keyring is locked (Secret Service: "${detail}"), so keyring service "${service}" cannot be used. ` +
      'Unlock it (desktop: unlock the "Login" keyring in Passwords and Keys; headless: ' +
      `printf %s "$KEYRING_PASSWORD" | gnome-keyring-daemon --replace --unlock --components=secrets) ` +
      'and restart; stored accounts were not touched.',
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
