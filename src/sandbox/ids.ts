// Identifiers shaped like AWS's (IAM "Unique identifiers": AKIA/ASIA access keys, AROA role
// IDs, AIDA user IDs), random per sandbox so nothing real-looking is ever tracked in git.

import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 32];
  return out;
}

export const accessKeyId = (temporary: boolean): string => (temporary ? 'ASIA' : 'AKIA') + base32(16);
export const roleId = (): string => 'AROA' + base32(17);
export const userId = (): string => 'AIDA' + base32(17);
export const policyId = (): string => 'ANPA' + base32(17);
export const secretAccessKey = (): string => randomBytes(30).toString('base64').slice(0, 40);
export const sessionToken = (): string => 'IQoJb3JpZ2luX2VjE' + randomBytes(180).toString('base64');
export const requestId = (): string => {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
