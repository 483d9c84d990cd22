// A value that must never be printed (DESIGN §6: the ID token, STS keys, the ECR password).
// It redacts itself in String(), JSON and util.inspect, so a log line or a `--json` dump of a
// config object cannot leak it; code that needs the value calls reveal() on purpose.

const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${REDACTED})`;
  }
}
