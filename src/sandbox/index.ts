// The sandbox's public face for the api/ tier.
export { startSandboxServer, type RunningSandbox, type SandboxServerOptions } from './server.ts';
export { World } from './state.ts';
export { emptyWorld, seedWorld, SEED } from './defaults.ts';
export { parseWorldSpec, worldFromSpec, type WorldSpec } from './world-spec.ts';
export { gitlabClaims, signJwt, type TokenRequest } from './oidc.ts';
export type { RequestLogEntry } from './protocol.ts';
export type { WorldState } from './world.ts';
