// Fuzz and property tests of hoist's parsers of untrusted text: the Dockerfile parser (and its
// variable expansion), image references, JWTs, IAM policies (parser and evaluator), and image
// manifests/indexes (the client's descriptor.ts and the sandbox's manifestInfo). Every target is
// time-bounded; a failure prints the seed and iteration to replay it (see test/support/fuzz.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { HoistError } from '../src/errors.ts';
import { parseImageIndex, parseImageManifest, manifestMediaType } from '../src/image/descriptor.ts';
import { expandWord, ExpandError, parseDockerfile } from '../src/model/dockerfile/index.ts';
import { decodeJwt } from '../src/model/jwt.ts';
import { formatReference, parseDigest, parseReference } from '../src/model/reference.ts';
import { evaluate, parsePolicy, type RequestContext } from '../src/policy/index.ts';
import { ManifestInvalid, manifestInfo } from '../src/sandbox/images.ts';
import {
  fuzz, mutateBytes, mutateJson, mutateString, randomBytes, randomJson, randomString, summary, type JsonValue, type Rng,
} from './support/fuzz.ts';

/** Each target's budget: the whole file stays well under 30 s. */
const SECONDS = 2;

/** The only way a parser may refuse input: a HoistError with this code. */
function expectCoded(err: unknown, code: string): void {
  if (err instanceof HoistError && err.code === code) {
    assert.ok(err.message.length > 0, 'a coded error has a message');
    return;
  }
  throw err;
}

// ---- Dockerfiles --------------------------------------------------------------------------

const SAMPLE_DOCKERFILES = [
  'FROM alpine:3.20\nRUN echo hi\n',
  '# syntax=docker/dockerfile:1\n# escape=`\nARG BASE=alpine\nFROM ${BASE} AS build\nWORKDIR /src\nCOPY --chown=1000:1000 --chmod=0755 . .\n' +
    'RUN --mount=type=cache,target=/root/.cache make `\n  all\nFROM scratch\nCOPY --from=build /src/out /out\nENTRYPOINT ["/out"]\n',
  'ARG V=1\nFROM busybox\nENV A=1 B="two words" C=${V:-x}\nLABEL a="b" c=d\nEXPOSE 80/tcp 443\nUSER app:app\nVOLUME ["/data"]\n' +
    'HEALTHCHECK --interval=30s --timeout=3s CMD wget -q localhost || exit 1\nSTOPSIGNAL SIGTERM\nSHELL ["/bin/sh", "-c"]\nONBUILD RUN x\nCMD echo $A\n',
  'FROM alpine\nCOPY <<EOF /etc/x.conf\nhello ${NAME}\nEOF\nRUN <<-"SCRIPT" sh\n\techo $HOME\n\tSCRIPT\nADD --checksum=sha256:' + 'a'.repeat(64) + ' https://example.com/x /x\n',
  'FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nARG TARGETOS TARGETARCH\nRUN GOOS=$TARGETOS go build\nFROM b AS c\nMAINTAINER me\nHEALTHCHECK NONE\n',
];

const DOCKERFILE_WORDS = [
  'FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'LABEL', 'EXPOSE', 'USER', 'WORKDIR', 'VOLUME', 'CMD', 'ENTRYPOINT', 'SHELL',
  'ONBUILD', 'HEALTHCHECK', 'STOPSIGNAL', 'MAINTAINER', 'AS', ' AS ', '--from=', '--chown=', '--chmod=', '--platform=', '--mount=',
  '--link', '--interval=', 'NONE', 'CMD ', '<<EOF', '<<-EOF', '\nEOF\n', '["a", "b"]', '[', '"', "'", '\\\n', '`\n', '${A:-b}',
  '${A:?}', '${', '$', '# escape=`\n', '# syntax=x\n', '#', '\n', '\r\n', '=', ' ', '\t', 'scratch', '0755', '1e9s',
];

/** A grammar-ish Dockerfile: instruction keywords with random flags and arguments, in any order. */
function genDockerfile(rng: Rng): string {
  if (rng.bool(0.4)) return mutateString(rng, rng.pick(SAMPLE_DOCKERFILES), DOCKERFILE_WORDS, rng.range(1, 6));
  const lines: string[] = rng.bool(0.8) ? [`FROM ${rng.pick(['alpine', 'scratch', '${B}', 'x AS y', randomString(rng, 12)])}`] : [];
  const n = rng.size(12);
  for (let i = 0; i < n; i++) {
    const kw = rng.pick(DOCKERFILE_WORDS.slice(0, 19));
    const parts = Array.from({ length: rng.size(4) }, () => (rng.bool(0.5) ? rng.pick(DOCKERFILE_WORDS) : randomString(rng, 10)));
    lines.push(`${rng.bool(0.1) ? kw.toLowerCase() : kw} ${parts.join(rng.pick([' ', '', '\\\n', '=']))}`);
  }
  return lines.join(rng.pick(['\n', '\n', '\r\n', '\n\n']));
}

describe('Dockerfile parser', () => {
  test('never throws anything but dockerfile.syntax, never hangs', { timeout: 30_000 }, async (t) => {
    const r = await fuzz('parseDockerfile', { seconds: SECONDS }, genDockerfile, (text) => {
      try {
        const df = parseDockerfile(text);
        assert.ok(df.stages.length >= 1, 'a parsed Dockerfile has a stage');
        for (const s of df.stages) for (const ins of s.instructions) assert.ok(ins.loc.line >= 1, 'instructions carry a line');
      } catch (err) {
        expectCoded(err, 'dockerfile.syntax');
      }
    });
    t.diagnostic(summary(r));
  });

  test('the valid samples parse (the generator starts from real Dockerfiles)', () => {
    for (const text of SAMPLE_DOCKERFILES) assert.ok(parseDockerfile(text).stages.length >= 1);
  });

  test('pathological inputs are refused or parsed quickly', () => {
    const cases = [
      'FROM a\n' + 'RUN x \\\n'.repeat(20_000) + 'y\n',
      'FROM a\n' + 'ENV ' + 'a=b '.repeat(20_000) + '\n',
      'FROM a\nCOPY ' + '<<EOF '.repeat(2_000) + '/x\n',
      'FROM a\nRUN ' + '"'.repeat(50_000) + '\n',
      'FROM a\nLABEL x=' + '${a:-'.repeat(5_000) + '\n',
      'FROM a\n' + '\n'.repeat(100_000),
      '\ufeffFROM a\n',
      'FROM a\u0000b\n',
    ];
    for (const text of cases) {
      const t0 = performance.now();
      try {
        parseDockerfile(text);
      } catch (err) {
        expectCoded(err, 'dockerfile.syntax');
      }
      assert.ok(performance.now() - t0 < 1000, `took ${performance.now() - t0} ms on ${JSON.stringify(text.slice(0, 40))}`);
    }
  });

  test('substitution never expands beyond a bound, and only ExpandError refuses', { timeout: 30_000 }, async (t) => {
    const VAR_WORDS = ['$A', '${A}', '${B:-x}', '${A:+$A$A}', '${C?no}', '${A-${B}}', '$', '${', '}', '\\$A', "'$A'", '"$A"', '${1}', '$9'];
    const r = await fuzz('expandWord', { seconds: SECONDS }, (rng) => {
      const vars = new Map<string, string>();
      for (const name of ['A', 'B', 'C']) if (rng.bool(0.7)) vars.set(name, randomString(rng, 40));
      const word = Array.from({ length: rng.size(20) }, () => (rng.bool(0.5) ? rng.pick(VAR_WORDS) : randomString(rng, 6))).join('');
      return { word, vars: [...vars], escape: rng.pick(['\\', '`']) };
    }, ({ word, vars, escape }) => {
      const map = new Map(vars);
      const longest = Math.max(0, ...vars.map(([, v]) => v.length));
      const dollars = [...word].filter((c) => c === '$').length;
      try {
        const out = expandWord(word, map, escape);
        // Each `$` substitutes at most one value; everything else comes from the word itself.
        assert.ok(out.length <= word.length + dollars * longest, `expanded ${word.length} chars to ${out.length}`);
        assert.equal(expandWord(word, map, escape), out, 'expansion is deterministic');
      } catch (err) {
        if (!(err instanceof ExpandError)) throw err;
        assert.ok(err.offset >= 0 && err.offset <= word.length, 'the error points into the word');
      }
    });
    t.diagnostic(summary(r));
  });
});

// ---- image references ---------------------------------------------------------------------

const COMPONENT = 'abcdefghijklmnopqrstuvwxyz0123456789';
function genComponent(rng: Rng): string {
  const parts = Array.from({ length: rng.range(1, 3) }, () => Array.from({ length: rng.range(1, 6) }, () => rng.pick([...COMPONENT])).join(''));
  return parts.join(rng.pick(['.', '_', '__', '-', '--']));
}

function genReference(rng: Rng): string {
  const registry = rng.pick(['', 'localhost:5000/', 'registry.example.com/', '831955480324.dkr.ecr.ap-south-1.amazonaws.com/', '[::1]:5000/', 'Host/']);
  const path = Array.from({ length: rng.range(1, 3) }, () => genComponent(rng)).join('/');
  const tag = rng.bool(0.6) ? `:${rng.pick(['latest', '1.0', 'v1.2.3-rc.1', '_x', 'A'.repeat(rng.range(1, 130))])}` : '';
  const digest = rng.bool(0.3) ? `@sha256:${'0123456789abcdef'.repeat(4)}` : '';
  const valid = `${registry}${path}${tag}${digest}`;
  return rng.bool(0.5) ? valid : mutateString(rng, valid, ['/', ':', '@', '.', '..', 'sha256:', 'A', '-', '_', '__', '[', ']', '', 'é']);
}

describe('image references', () => {
  test('parseReference never throws; what it accepts round-trips through formatReference', { timeout: 30_000 }, async (t) => {
    let accepted = 0;
    const r = await fuzz('parseReference', { seconds: SECONDS }, genReference, (raw) => {
      const parsed = parseReference(raw);
      if (!parsed.ok) {
        assert.ok(parsed.problem.message.length > 0 && parsed.problem.source === 'image reference');
        return;
      }
      accepted++;
      const ref = parsed.value;
      const again = parseReference(formatReference(ref));
      assert.ok(again.ok, `formatted ${formatReference(ref)} does not parse`);
      assert.deepEqual(again.value, ref);
      assert.equal(formatReference(again.value), formatReference(ref));
      assert.ok(formatReference(ref).length <= raw.length, 'formatting adds nothing');
      if (ref.digest !== undefined) assert.ok(parseDigest(ref.digest).ok);
    });
    t.diagnostic(`${summary(r)}; ${accepted} accepted`);
    assert.ok(accepted > 0, 'the generator produces valid references too');
  });

  test('random text: no throw, and nothing over the length limits is accepted', { timeout: 30_000 }, async (t) => {
    const r = await fuzz('parseReference(random)', { seconds: 1 }, (rng) => randomString(rng, 600, `${COMPONENT}:/@.-_A`), (raw) => {
      const parsed = parseReference(raw);
      if (parsed.ok) {
        const name = raw.split('@')[0]!;
        assert.ok(name.length <= 255 + 1 + 128, 'accepted an over-long reference');
      }
    });
    t.diagnostic(summary(r));
  });
});

// ---- JWTs -------------------------------------------------------------------------------------

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const JWT_KEYS = ['alg', 'typ', 'kid', 'iss', 'sub', 'aud', 'exp', 'nbf', 'iat', '__proto__'];

describe('JWT decoder', () => {
  test('decodeJwt throws only token.malformed; decoded parts are objects', { timeout: 30_000 }, async (t) => {
    const valid = `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ iss: 'https://gitlab.com', sub: 'project_path:a/b', aud: 'sts', exp: 1 })}.${b64('sig')}`;
    const r = await fuzz('decodeJwt', { seconds: SECONDS }, (rng) => {
      switch (rng.int(4)) {
        case 0: return mutateString(rng, valid, ['.', '=', '+', '/', '-', '_', ' ', '\n', 'eyJ', '..']);
        case 1: return `${b64(randomJson(rng, 3, JWT_KEYS))}.${b64(randomJson(rng, 3, JWT_KEYS))}.${b64(randomString(rng, 20))}`;
        case 2: return `${b64(randomString(rng, 40))}.${randomBytes(rng, 40).toString('base64url')}.${rng.bool() ? '' : 'x'}`;
        default: return randomString(rng, 200, 'eyJhbGciOi.-_=AZaz09');
      }
    }, (token) => {
      try {
        const jwt = decodeJwt(token);
        for (const part of [jwt.header, jwt.claims]) assert.ok(part !== null && typeof part === 'object' && !Array.isArray(part));
        assert.ok(Buffer.isBuffer(jwt.signature));
        assert.equal(Object.getPrototypeOf(jwt.claims), Object.prototype, 'a "__proto__" claim does not replace the prototype');
      } catch (err) {
        expectCoded(err, 'token.malformed');
        assert.ok(!(err as Error).message.includes(token) || token.length < 8, 'the error never repeats the token');
      }
    });
    t.diagnostic(summary(r));
  });
});

// ---- IAM policies -----------------------------------------------------------------------------

const POLICY_KEYS = [
  'Version', 'Id', 'Statement', 'Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'NotPrincipal',
  'Condition', 'Allow', 'Deny', '2012-10-17', '2008-10-17', '*', 'ecr:*', 'ecr:PutImage', 'sts:AssumeRoleWithWebIdentity', 'AWS',
  'Federated', 'StringEquals', 'StringLike', 'ForAnyValue:StringLike', 'ForAllValues:StringEquals', 'StringEqualsIfExists', 'Null',
  'Bool', 'NumericLessThan', 'DateGreaterThan', 'IpAddress', 'ArnLike', 'gitlab.com:sub', 'aws:username', '${aws:username}',
];
const ACTIONS = ['ecr:PutImage', 'ecr:BatchGetImage', 'ecr:GetAuthorizationToken', 'sts:AssumeRole', 'iam:PassRole', 's3:GetObject'];
const PATTERNS = ['*', 'ecr:*', 'ecr:Put*', 'ecr:?etAuthorizationToken', 'sts:*', 'ECR:putimage', 'iam:*Role', 's3:Get*'];
const RESOURCES = ['*', 'arn:aws:ecr:ap-south-1:831955480324:repository/*', 'arn:aws:ecr:*:*:repository/app', 'arn:aws:s3:::b/*'];
const CONDITION_OPS = ['StringEquals', 'StringLike', 'StringNotEquals', 'ForAnyValue:StringLike', 'ForAllValues:StringEquals', 'Null', 'Bool', 'StringEqualsIfExists'];

function genStatement(rng: Rng): Record<string, JsonValue> {
  const s: Record<string, JsonValue> = { Effect: rng.pick(['Allow', 'Allow', 'Deny']) };
  if (rng.bool(0.3)) s.Sid = `S${rng.int(1_000_000)}`;
  const list = (items: string[]) => (rng.bool(0.3) ? rng.pick(items) : Array.from({ length: rng.range(1, 3) }, () => rng.pick(items)));
  if (rng.bool(0.8)) s.Action = list(PATTERNS); else s.NotAction = list(PATTERNS);
  if (rng.bool(0.8)) s.Resource = list(RESOURCES); else s.NotResource = list(RESOURCES);
  if (rng.bool(0.4)) {
    const op = rng.pick(CONDITION_OPS);
    const key = rng.pick(['gitlab.com:sub', 'aws:username', 'ecr:ResourceTag/team', 'x:y']);
    s.Condition = { [op]: { [key]: op === 'Null' || op === 'Bool' ? rng.pick(['true', 'false']) : list(['a', 'a*', 'project_path:*', '${aws:username}', '']) } };
  }
  return s;
}

function genPolicy(rng: Rng): Record<string, JsonValue> {
  return { Version: '2012-10-17', Statement: Array.from({ length: rng.range(1, 4) }, () => genStatement(rng)) };
}

function genRequest(rng: Rng, action = rng.pick(ACTIONS)): RequestContext {
  const keys: Record<string, string | string[] | undefined> = {};
  if (rng.bool(0.5)) keys['gitlab.com:sub'] = rng.pick(['a', 'project_path:x', randomString(rng, 10)]);
  if (rng.bool(0.3)) keys['aws:username'] = rng.pick(['a', 'bob']);
  if (rng.bool(0.2)) keys['ecr:ResourceTag/team'] = ['a', 'b'];
  return { action, resource: rng.pick([...RESOURCES.slice(1), 'arn:aws:ecr:ap-south-1:831955480324:repository/app']), keys };
}

describe('IAM policies', () => {
  test('parsePolicy throws only policy.malformed on mutated and random documents', { timeout: 30_000 }, async (t) => {
    let parsed = 0;
    const r = await fuzz('parsePolicy', { seconds: SECONDS }, (rng) => {
      switch (rng.int(3)) {
        case 0: return JSON.stringify(mutateJson(rng, genPolicy(rng), POLICY_KEYS));
        case 1: return mutateString(rng, JSON.stringify(genPolicy(rng)), ['{', '}', '[', ']', '"', ',', ':', '\\u0000', 'null', '*']);
        default: return JSON.stringify(randomJson(rng, 4, POLICY_KEYS));
      }
    }, (json) => {
      for (const kind of ['any', 'identity', 'trust', 'resource'] as const) {
        try {
          const doc = parsePolicy(json, 'fuzz policy', kind);
          parsed++;
          // Whatever parses evaluates without throwing, deterministically.
          const req: RequestContext = { action: 'ecr:PutImage', resource: RESOURCES[1]!, principal: { aws: 'arn:aws:iam::1:root' }, keys: { 'gitlab.com:sub': 'a' } };
          assert.deepEqual(evaluate([doc], req), evaluate([doc], req));
        } catch (err) {
          expectCoded(err, 'policy.malformed');
          assert.ok((err as HoistError).problems.length >= 1, 'every refusal lists its problems');
        }
      }
    });
    t.diagnostic(`${summary(r)}; ${parsed} parsed`);
  });

  test('evaluate is deterministic and an explicit Deny is never overridden', { timeout: 30_000 }, async (t) => {
    let allowedBefore = 0;
    const r = await fuzz('evaluate', { seconds: SECONDS }, (rng) => ({ policies: Array.from({ length: rng.range(1, 3) }, () => genPolicy(rng)), req: genRequest(rng) }), ({ policies, req }) => {
      const docs = policies.flatMap((p, i) => {
        try {
          return [parsePolicy(JSON.stringify(p), `p${i}`, 'identity')];
        } catch (err) {
          expectCoded(err, 'policy.malformed');
          return [];
        }
      });
      const first = evaluate(docs, req);
      assert.deepEqual(evaluate(docs, req), first, 'same input, same evaluation');
      assert.deepEqual(evaluate([...docs].reverse(), req).decision, first.decision, 'the order of documents does not matter');
      if (first.decision === 'allow') allowedBefore++;
      // Adding an explicit, unconditional Deny for the action wins over any Allow.
      const deny = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: req.action, Resource: '*' }] }), 'deny', 'identity');
      assert.equal(evaluate([...docs, deny], req).decision, 'explicit-deny');
      assert.equal(evaluate([deny, ...docs], req).decision, 'explicit-deny');
      // A Deny that already applies stays: adding Allows never turns explicit-deny into allow.
      if (first.decision === 'explicit-deny') {
        const allowAll = parsePolicy(JSON.stringify({ Statement: { Effect: 'Allow', Action: '*', Resource: '*' } }), 'allow', 'identity');
        assert.equal(evaluate([...docs, allowAll], req).decision, 'explicit-deny');
      }
    });
    t.diagnostic(`${summary(r)}; ${allowedBefore} allowed before the Deny was added`);
    assert.ok(allowedBefore > 0, 'the generator produces allowing policies, so the Deny property is not vacuous');
  });
});

// ---- manifests ----------------------------------------------------------------------------------

const D = (c: string) => `sha256:${c.repeat(64)}`;
const MANIFEST = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('a'), size: 123 },
  layers: [
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('b'), size: 456 },
    { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: D('c'), size: 7, urls: ['https://x'] },
  ],
  subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('d'), size: 1 },
  annotations: { a: 'b' },
};
const INDEX = {
  schemaVersion: 2,
  mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
  manifests: [
    { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: D('e'), size: 500, platform: { architecture: 'amd64', os: 'linux' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('f'), size: 501, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
  ],
};
const MANIFEST_KEYS = [
  'schemaVersion', 'mediaType', 'config', 'layers', 'manifests', 'digest', 'size', 'subject', 'artifactType', 'urls', 'platform',
  'annotations', '__proto__', 2, D('0'), 'application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json',
].map(String);

function genManifestBytes(rng: Rng): { bytes: Buffer; declared: string | undefined } {
  const base = rng.bool() ? MANIFEST : INDEX;
  let bytes: Buffer;
  switch (rng.int(4)) {
    case 0: bytes = Buffer.from(JSON.stringify(mutateJson(rng, base as unknown as JsonValue, MANIFEST_KEYS))); break;
    case 1: bytes = mutateBytes(rng, Buffer.from(JSON.stringify(base))); break;
    case 2: bytes = Buffer.from(JSON.stringify(randomJson(rng, 4, MANIFEST_KEYS))); break;
    default: bytes = randomBytes(rng, 300);
  }
  const declared = rng.pick([undefined, 'application/json', MANIFEST.mediaType, INDEX.mediaType, randomString(rng, 20)]);
  return { bytes, declared };
}

describe('manifests', () => {
  test('the samples are valid for both parsers', () => {
    assert.equal(parseImageManifest(Buffer.from(JSON.stringify(MANIFEST))).layers.length, 2);
    assert.equal(parseImageIndex(Buffer.from(JSON.stringify(INDEX))).manifests.length, 2);
    const info = manifestInfo(Buffer.from(JSON.stringify(MANIFEST)));
    assert.deepEqual(info.foreign, [D('c')]);
    assert.equal(manifestInfo(Buffer.from(JSON.stringify(INDEX))).references.length, 2);
  });

  test('descriptor.ts parsers throw only image.manifest-invalid', { timeout: 30_000 }, async (t) => {
    const r = await fuzz('parseImageManifest/Index', { seconds: SECONDS }, genManifestBytes, ({ bytes, declared }) => {
      for (const parse of [parseImageManifest, parseImageIndex, (b: Buffer) => manifestMediaType(b, declared)]) {
        try {
          parse(bytes);
        } catch (err) {
          expectCoded(err, 'image.manifest-invalid');
        }
      }
    });
    t.diagnostic(summary(r));
  });

  test('sandbox manifestInfo throws only ManifestInvalid, and what it accepts is consistent', { timeout: 30_000 }, async (t) => {
    let accepted = 0;
    const r = await fuzz('manifestInfo', { seconds: SECONDS }, genManifestBytes, ({ bytes, declared }) => {
      let info;
      try {
        info = manifestInfo(bytes, declared);
      } catch (err) {
        if (err instanceof ManifestInvalid) return assert.ok(err.reason.length > 0);
        throw err;
      }
      accepted++;
      assert.equal(new Set(info.references).size, info.references.length, 'references have no duplicates');
      for (const d of info.references) {
        assert.match(d, /^sha256:[0-9a-f]{64}$/);
        assert.ok(Number.isSafeInteger(info.layerSizes[d]) && info.layerSizes[d]! >= 0);
      }
      for (const d of info.foreign) assert.ok(info.references.includes(d));
      assert.ok(Number.isFinite(info.imageSize) && info.imageSize >= 0);
    });
    t.diagnostic(`${summary(r)}; ${accepted} accepted`);
    assert.ok(accepted > 0, 'some mutated manifests stay valid');
  });

  test('oversized and deeply nested manifests are refused, not crashed on', () => {
    assert.throws(() => manifestInfo(Buffer.alloc(4_194_305, 0x20)), ManifestInvalid);
    const deep = Buffer.from('['.repeat(100_000) + ']'.repeat(100_000));
    assert.throws(() => manifestInfo(deep), ManifestInvalid);
    assert.throws(() => parseImageManifest(deep), (e: unknown) => e instanceof HoistError && e.code === 'image.manifest-invalid');
  });
});
