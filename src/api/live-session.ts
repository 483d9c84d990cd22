// A job's AWS identity kept valid for as long as the job runs (DESIGN §6: "credentials that
// expire during a long job are renewed before they are needed"). Two renewables:
//   - the STS session: a new AssumeRoleWithWebIdentity, the ID token read again from its source;
//   - the ECR registry login: GetAuthorizationToken with current STS credentials (an ECR token
//     never outlives the session it came from, so it is fetched only from a session with most
//     of its life ahead).
// Each renews when less than min(60 s, a quarter of its lifetime) remains (http/renewal.ts),
// once for any number of concurrent callers. Expiry that could not be foreseen — a request
// held up in transit past it — is the safety net's: one renewal and the request sent again.

import type { AwsCredentials, AwsTarget } from '../aws/clients.ts';
import { getRegistryLogin, type RegistryLogin } from '../aws/ecr.ts';
import type { AwsSettings } from '../config/aws.ts';
import { isHoistError } from '../errors.ts';
import { Renewable, type Expiring } from '../http/renewal.ts';
import type { IdTokenSource } from '../model/id-token.ts';
import type { CredentialRenewal, RegistryCredentials } from '../registry/auth.ts';
import { openSession, renewSession, type AwsSession, type SessionDeps } from './session.ts';

/** How AWS refuses expired credentials: Query services (STS, IAM) and JSON services (ECR). */
const EXPIRED_CREDENTIALS = new Set(['ExpiredToken', 'ExpiredTokenException']);
/** Registry logins are fetched with an STS session that has at least this share of its lifetime left. */
const LOGIN_SESSION_SHARE = 0.75;

export class LiveSession {
  readonly #sts: Renewable<AwsSession>;
  readonly #now: () => number;
  #login: Promise<Renewable<RegistryLogin>> | undefined;

  private constructor(first: AwsSession, aws: AwsSettings, source: IdTokenSource, deps: SessionDeps) {
    this.#now = deps.now ?? Date.now;
    this.#sts = new Renewable(async () => expiringSession(await renewSession(aws, source, deps)), expiringSession(first), this.#now);
  }

  /** The job's first exchange of its ID token (errors explained as openSession does). */
  static async open(aws: AwsSettings, source: IdTokenSource, deps: SessionDeps = {}): Promise<LiveSession> {
    return new LiveSession(await openSession(aws, source, deps), aws, source, deps);
  }

  /** The session held now: its role ARN and token claims are safe to show. */
  get session(): AwsSession {
    return this.#sts.current;
  }

  /**
   * Runs an AWS API call with current STS credentials (renewed first when near expiry). When AWS
   * refuses them as expired anyway, they are renewed once and the call runs again: every call
   * hoist makes this way (GetAuthorizationToken, Describe/CreateRepository, BatchGetImage) is
   * safe to repeat.
   */
  async withCredentials<T>(call: (target: AwsTarget, credentials: AwsCredentials) => Promise<T>, keepShare = 0): Promise<T> {
    const session = await this.#sts.get(keepShare);
    try {
      return await call(session.target, session.role.credentials);
    } catch (err) {
      if (!isHoistError(err) || !EXPIRED_CREDENTIALS.has(String(err.context.awsError))) throw err;
      const next = await this.#sts.renew((held) => held === session);
      return call(next.target, next.role.credentials);
    }
  }

  /**
   * The ECR registry login, renewed when near expiry; with `keepShare`, also when less than that
   * share of its lifetime remains (0.75 before a `docker push`, which keeps the token it starts with).
   */
  async registryLogin(keepShare = 0): Promise<RegistryLogin> {
    if (!this.#login) {
      this.#login = this.#obtainLogin().then((first) => new Renewable(() => this.#obtainLogin(), first, this.#now));
      this.#login.catch(() => (this.#login = undefined));
      return (await this.#login).current;
    }
    return (await this.#login).get(keepShare);
  }

  /** `login` as the registry client takes it: username, password, and how to renew them. */
  registryCredentials(login: RegistryLogin): RegistryCredentials {
    return { username: login.username, password: login.password, renewal: this.#renewal };
  }

  readonly #renewal: CredentialRenewal = {
    fresh: async () => credentialsOf(await this.registryLogin()),
    refused: async (sent) => {
      const logins = await this.#login!;
      // Secrets compare as objects: each login holds its own.
      return credentialsOf(await logins.renew((held) => held.password === sent.password));
    },
  };

  async #obtainLogin(): Promise<Expiring<RegistryLogin>> {
    const login = await this.withCredentials((target, credentials) => getRegistryLogin(target, credentials), LOGIN_SESSION_SHARE);
    return { value: login, expiresAt: login.expiresAt.getTime() };
  }
}

function expiringSession(s: AwsSession): Expiring<AwsSession> {
  return { value: s, expiresAt: s.role.credentials.expiration.getTime() };
}

function credentialsOf(login: RegistryLogin): Pick<RegistryCredentials, 'username' | 'password'> {
  return { username: login.username, password: login.password };
}
