// Condition operators, one rule of "IAM JSON policy elements: Condition operators" at a time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateCondition, lookupKey, parseOperator } from '../src/policy/index.ts';
import { arnMatch, globMatch, ipMatch, parseDate } from '../src/policy/match.ts';

const ok = (op: string, expected: string[], actual: string | string[] | undefined): boolean =>
  evaluateCondition(op, 'k', expected, actual).passed;

describe('string operators', () => {
  test('StringEquals is exact and case-sensitive', () => {
    assert.equal(ok('StringEquals', ['main'], 'main'), true);
    assert.equal(ok('StringEquals', ['main'], 'Main'), false);
    assert.equal(ok('StringEquals', ['main'], 'main '), false);
  });
  test('multiple policy values for one key are OR-ed', () => {
    assert.equal(ok('StringEquals', ['a', 'b', 'c'], 'b'), true);
    assert.equal(ok('StringEquals', ['a', 'b'], 'd'), false);
  });
  test('StringEquals does not expand wildcards, and says so', () => {
    const r = evaluateCondition('StringEquals', 'gitlab.com:sub', ['project_path:g/p:ref_type:branch:ref:*'],
      'project_path:g/p:ref_type:branch:ref:main');
    assert.equal(r.passed, false);
    assert.match(r.reason, /StringEquals compares literally: the value contains '\*', which only StringLike treats as a wildcard/);
    assert.equal(ok('StringEquals', ['ref:*'], 'ref:*'), true, 'a literal * equals a literal *');
  });
  test('a case-only difference is explained', () => {
    const r = evaluateCondition('StringEquals', 'k', ['MyGroup'], 'mygroup');
    assert.match(r.reason, /case-sensitive/);
  });
  test('StringNotEquals is a NOR over the values', () => {
    assert.equal(ok('StringNotEquals', ['a', 'b'], 'c'), true);
    assert.equal(ok('StringNotEquals', ['a', 'b'], 'b'), false);
  });
  test('IgnoreCase variants', () => {
    assert.equal(ok('StringEqualsIgnoreCase', ['MyGroup'], 'mygroup'), true);
    assert.equal(ok('StringNotEqualsIgnoreCase', ['MyGroup'], 'MYGROUP'), false);
    assert.equal(ok('StringNotEqualsIgnoreCase', ['MyGroup'], 'other'), true);
  });
  test('StringLike: * is any run (even empty, even across / and :), ? exactly one character', () => {
    assert.equal(ok('StringLike', ['ref:*'], 'ref:'), true);
    assert.equal(ok('StringLike', ['ref:*'], 'ref:feature/a:b'), true);
    assert.equal(ok('StringLike', ['ref:ma?n'], 'ref:main'), true);
    assert.equal(ok('StringLike', ['ref:ma?n'], 'ref:man'), false);
    assert.equal(ok('StringLike', ['ref:ma?n'], 'ref:maiin'), false);
    assert.equal(ok('StringLike', ['*main'], 'xmain'), true);
    assert.equal(ok('StringLike', ['a*b*c'], 'abxbc'), true);
    assert.equal(ok('StringLike', ['a*b*c'], 'acb'), false);
  });
  test('StringLike is case-sensitive and anchored; regex characters are literal', () => {
    assert.equal(ok('StringLike', ['ref:*'], 'REF:x'), false);
    assert.equal(ok('StringLike', ['main'], 'mainline'), false);
    assert.equal(ok('StringLike', ['v1.0'], 'v1x0'), false);
    assert.equal(ok('StringLike', ['a+(b)[c]'], 'a+(b)[c]'), true);
  });
  test('StringNotLike', () => {
    assert.equal(ok('StringNotLike', ['*:ref:feature/*'], 'x:ref:feature/a'), false);
    assert.equal(ok('StringNotLike', ['*:ref:feature/*'], 'x:ref:main'), true);
  });
  test('policy variables are not substituted but do not crash', () => {
    assert.equal(ok('StringEquals', ['${aws:username}'], 'alice'), false);
    assert.equal(ok('StringEquals', ['${aws:username}'], '${aws:username}'), true);
    assert.equal(ok('StringLike', ['home/${aws:username}/*'], 'home/${aws:username}/x'), true);
  });
});

describe('numeric, date, bool, binary', () => {
  test('numeric comparisons parse numbers', () => {
    assert.equal(ok('NumericEquals', ['10'], '10.0'), true);
    assert.equal(ok('NumericNotEquals', ['10'], '11'), true);
    assert.equal(ok('NumericLessThan', ['10'], '9'), true);
    assert.equal(ok('NumericLessThan', ['10'], '10'), false);
    assert.equal(ok('NumericLessThanEquals', ['10'], '10'), true);
    assert.equal(ok('NumericGreaterThan', ['10'], '10.5'), true);
    assert.equal(ok('NumericGreaterThanEquals', ['10'], '9'), false);
  });
  test('a non-numeric value never satisfies a numeric operator, with a reason', () => {
    const r = evaluateCondition('NumericLessThan', 'k', ['10'], 'ten');
    assert.equal(r.passed, false);
    assert.match(r.reason, /type number/);
  });
  test('dates accept ISO 8601 and epoch seconds', () => {
    assert.equal(ok('DateEquals', ['2020-01-01T00:00:00Z'], '1577836800'), true);
    assert.equal(ok('DateEquals', ['2020-01-01'], '2020-01-01T00:00:00Z'), true);
    assert.equal(ok('DateEquals', ['2020-01-01T01:00:00+01:00'], '2020-01-01T00:00:00Z'), true);
    assert.equal(ok('DateLessThan', ['2030-01-01T00:00:00Z'], '2025-06-01T12:00:00Z'), true);
    assert.equal(ok('DateGreaterThan', ['2030-01-01T00:00:00Z'], '2025-06-01T12:00:00Z'), false);
    assert.equal(ok('DateGreaterThanEquals', ['1577836800'], '2020-01-01T00:00:00Z'), true);
    assert.equal(ok('DateNotEquals', ['2020-01-01'], '2020-01-02'), true);
    assert.equal(parseDate('yesterday'), undefined);
  });
  test('Bool compares true/false', () => {
    assert.equal(ok('Bool', ['true'], 'true'), true);
    assert.equal(ok('Bool', ['true'], 'false'), false);
    assert.equal(ok('Bool', ['false'], 'FALSE'), true);
    assert.equal(ok('Bool', ['true'], 'yes'), false);
  });
  test('BinaryEquals compares the base64 text', () => {
    assert.equal(ok('BinaryEquals', ['QmluYXJ5'], 'QmluYXJ5'), true);
    assert.equal(ok('BinaryEquals', ['QmluYXJ5'], 'QmluYXJ6'), false);
  });
});

describe('IP and ARN operators', () => {
  test('IpAddress with CIDR blocks, single hosts and IPv6', () => {
    assert.equal(ok('IpAddress', ['203.0.113.0/24'], '203.0.113.7'), true);
    assert.equal(ok('IpAddress', ['203.0.113.0/24'], '203.0.114.7'), false);
    assert.equal(ok('IpAddress', ['203.0.113.7'], '203.0.113.7'), true);
    assert.equal(ok('IpAddress', ['2001:db8::/32'], '2001:db8:1::5'), true);
    assert.equal(ok('IpAddress', ['2001:db8::/32'], '203.0.113.7'), false);
    assert.equal(ipMatch('10.0.0.0/33', '10.0.0.1'), undefined);
  });
  test('NotIpAddress', () => {
    assert.equal(ok('NotIpAddress', ['10.0.0.0/8'], '192.0.2.1'), true);
    assert.equal(ok('NotIpAddress', ['10.0.0.0/8'], '10.1.2.3'), false);
    assert.equal(ok('NotIpAddress', ['10.0.0.0/8'], undefined), true);
  });
  test('ArnLike matches each of the six components separately', () => {
    const role = 'arn:aws:iam::831955480324:role/hoist-ci';
    assert.equal(ok('ArnLike', ['arn:aws:iam::*:role/hoist-*'], role), true);
    assert.equal(ok('ArnEquals', ['arn:aws:iam::*:role/hoist-*'], role), true, 'ArnEquals behaves like ArnLike');
    assert.equal(ok('ArnLike', ['arn:aws:iam::111111111111:role/*'], role), false);
    assert.equal(ok('ArnNotLike', ['arn:aws:iam::111111111111:role/*'], role), true);
    assert.equal(ok('ArnNotEquals', [role], role), false);
    assert.equal(arnMatch('arn:aws:*:role/x', role), undefined, 'a pattern with fewer than six components is not an ARN');
    assert.equal(arnMatch('arn:aws:ecr:*:*:repository/app', 'arn:aws:ecr:eu-west-1:1:repository/app'), true);
    assert.equal(ok('ArnLike', ['arn:aws:iam::*:role/*'], 'not-an-arn'), false);
  });
});

describe('missing keys, IfExists and Null', () => {
  test('a missing key makes a positive operator false and a negated one true', () => {
    assert.equal(ok('StringEquals', ['x'], undefined), false);
    assert.equal(ok('StringLike', ['*'], undefined), false);
    assert.equal(ok('StringNotEquals', ['x'], undefined), true);
    assert.equal(ok('StringNotLike', ['x'], undefined), true);
    assert.equal(ok('ArnNotLike', ['arn:aws:iam::*:role/x'], undefined), true);
    assert.match(evaluateCondition('StringNotEquals', 'k', ['x'], undefined).reason, /negated operator is true when the key is absent/);
  });
  test('...IfExists is true when the key is absent, and a normal check when present', () => {
    assert.equal(ok('StringEqualsIfExists', ['x'], undefined), true);
    assert.equal(ok('StringEqualsIfExists', ['x'], 'y'), false);
    assert.equal(ok('BoolIfExists', ['true'], undefined), true);
    assert.equal(ok('NumericLessThanIfExists', ['5'], '3'), true);
  });
  test('Null: "true" means absent, "false" means present', () => {
    assert.equal(ok('Null', ['true'], undefined), true);
    assert.equal(ok('Null', ['true'], 'v'), false);
    assert.equal(ok('Null', ['false'], 'v'), true);
    assert.equal(ok('Null', ['false'], undefined), false);
    assert.equal(ok('Null', ['false'], []), false, 'an empty list counts as absent');
    assert.equal(ok('Null', ['maybe'], undefined), false);
  });
});

describe('set qualifiers', () => {
  test('ForAllValues: every request value must match some policy value; empty or absent is true', () => {
    assert.equal(ok('ForAllValues:StringEquals', ['a', 'b'], ['a', 'b']), true);
    assert.equal(ok('ForAllValues:StringEquals', ['a', 'b'], ['a', 'c']), false);
    assert.equal(ok('ForAllValues:StringEquals', ['a'], undefined), true);
    assert.equal(ok('ForAllValues:StringEquals', ['a'], []), true);
    assert.match(evaluateCondition('ForAllValues:StringEquals', 'k', ['a'], undefined).reason, /vacuously true/);
  });
  test('ForAnyValue: at least one request value must match; absent is false', () => {
    assert.equal(ok('ForAnyValue:StringEquals', ['a'], ['x', 'a']), true);
    assert.equal(ok('ForAnyValue:StringEquals', ['a'], ['x', 'y']), false);
    assert.equal(ok('ForAnyValue:StringEquals', ['a'], undefined), false);
    assert.equal(ok('ForAnyValue:StringLikeIfExists', ['a'], undefined), true);
  });
  test('negated operators under a qualifier test each request value', () => {
    assert.equal(ok('ForAllValues:StringNotEquals', ['admin'], ['dev', 'ops']), true);
    assert.equal(ok('ForAllValues:StringNotEquals', ['admin'], ['dev', 'admin']), false);
    assert.equal(ok('ForAnyValue:StringNotLike', ['adm*'], ['admin', 'dev']), true);
    assert.equal(ok('ForAnyValue:StringNotLike', ['adm*'], ['admin']), false);
  });
  test('a multivalued key without a qualifier: positive needs one match, negated needs none', () => {
    assert.equal(ok('StringEquals', ['a'], ['x', 'a']), true);
    assert.equal(ok('StringNotEquals', ['a'], ['x', 'a']), false);
    assert.equal(ok('StringNotEquals', ['a'], ['x', 'y']), true);
  });
});

describe('operator names and key lookup', () => {
  test('parseOperator splits qualifiers and IfExists', () => {
    assert.deepEqual(parseOperator('ForAllValues:StringLikeIfExists'), {
      name: 'ForAllValues:StringLikeIfExists', base: 'StringLike', qualifier: 'ForAllValues', ifExists: true, negated: false,
    });
    assert.equal(parseOperator('StringNotEquals')?.negated, true);
    assert.equal(parseOperator('NotIpAddressIfExists')?.negated, true);
    assert.equal(parseOperator('stringequals')?.base, 'StringEquals');
    assert.equal(parseOperator('NullIfExists'), undefined, 'IfExists is not allowed on Null');
    assert.equal(parseOperator('StringEqual'), undefined);
    assert.equal(parseOperator('IfExists'), undefined);
  });
  test('an unknown operator never passes, with a reason', () => {
    const r = evaluateCondition('StringEqual', 'k', ['x'], 'x');
    assert.equal(r.passed, false);
    assert.match(r.reason, /not an IAM condition operator/);
  });
  test('condition keys are looked up case-insensitively', () => {
    assert.deepEqual(lookupKey({ 'gitlab.com:sub': 's' }, 'GitLab.com:SUB'), ['s']);
    assert.deepEqual(lookupKey({ 'aws:TagKeys': ['a', 'b'] }, 'aws:tagkeys'), ['a', 'b']);
    assert.equal(lookupKey({ 'gitlab.com:sub': undefined }, 'gitlab.com:sub'), undefined);
  });
  test('results carry operator, key, expected and actual', () => {
    const r = evaluateCondition('StringLike', 'gitlab.com:sub', ['p:*'], 'p:x');
    assert.deepEqual({ ...r, reason: '' }, {
      operator: 'StringLike', key: 'gitlab.com:sub', expected: ['p:*'], actual: ['p:x'], passed: true, reason: '',
    });
    assert.equal(r.reason, 'gitlab.com:sub is "p:x", which matches "p:*" (StringLike)');
  });
  test('wildcard matching stays fast on hostile patterns', () => {
    const started = Date.now();
    assert.equal(globMatch('a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(20000)), false);
    assert.ok(Date.now() - started < 1000);
  });
});
