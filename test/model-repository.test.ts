// ECR repository names: ECR's CreateRepository rule, with messages that say what to change.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRepositoryName } from '../src/model/repository.ts';

function check(raw: string): { why: string; hint?: string } {
  const p = parseRepositoryName(raw, 'ECR_REPOSITORY (environment)');
  if (p.ok) return { why: 'ok' };
  assert.equal(p.problem.source, 'ECR_REPOSITORY (environment)');
  const prefix = `${JSON.stringify(raw)} is not a valid ECR repository name: `;
  assert.ok(p.problem.message.startsWith(prefix), p.problem.message);
  return { why: p.problem.message.slice(prefix.length), hint: p.problem.hint };
}

test('valid ECR repository names', () => {
  for (const name of ['order-microservice', 'ab', 'team/app', 'a/b/c', 'my.app_v2-x', 'mygroup/myrepo/api', 'x'.repeat(256)]) {
    assert.equal(check(name).why, 'ok', name);
  }
});

test('invalid names: each message names the rule broken, with the fixed name when obvious', () => {
  const table: Array<[string, string, string | undefined]> = [
    ['Order-Microservice', 'ECR names are lowercase', 'Use order-microservice.'],
    ['/order-microservice', 'it starts with a slash', 'Use order-microservice.'],
    ['order-microservice/', 'it ends with a slash', 'Use order-microservice.'],
    ['team//app', 'it has an empty path part (//)', 'Use team/app.'],
    ['order--microservice', 'it has two separators in a row ("--"); ECR allows one . _ or - between letters and digits', undefined],
    ['order__app', 'it has two separators in a row ("__"); ECR allows one . _ or - between letters and digits', undefined],
    ['-order', 'path part "-order" starts with "-"', undefined],
    ['team/app.', 'path part "app." ends with "."', undefined],
    ['order microservice', 'ECR names cannot contain " "', undefined],
    ['a', 'ECR names have at least 2 characters', undefined],
    ['x'.repeat(257), 'it has 257 characters; ECR allows 256', undefined],
    ['', 'it is empty', undefined],
    ['order-microservice:3.0.0', 'it includes a tag ("3.0.0"); give tags with IMAGE_TAG or --tag', 'Use order-microservice.'],
    ['831955480324.dkr.ecr.ap-south-1.amazonaws.com/order-microservice', 'it includes the registry host; the repository is only the path after it', 'Use order-microservice.'],
    ['order@sha256:abc', 'it includes a digest', 'Use order.'],
  ];
  for (const [raw, why, hint] of table) {
    const got = check(raw);
    assert.equal(got.why, why, raw);
    if (hint) assert.equal(got.hint, hint, raw);
    else assert.match(got.hint ?? '', /lowercase letters and digits/, raw);
  }
});
