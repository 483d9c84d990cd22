// tags/list (distribution-spec "Listing tags"): `n`/`last` pagination, following the Link
// header's rel="next". Page size ≤ 1000 because ECR rejects more (ggcr issue #1091).

import { HoistError } from '../errors.ts';
import { readAll } from '../image/streams.ts';
import { bodyError } from './http.ts';
import { type RegistryTransport, repoScope } from './transport.ts';

export const MAX_PAGE = 1000;

function nextLink(link: string | undefined): string | undefined {
  return link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] : undefined;
}

export async function listTags(t: RegistryTransport, repository: string, pageSize = MAX_PAGE): Promise<string[]> {
  if (!(pageSize >= 1 && pageSize <= MAX_PAGE)) throw new HoistError(`tag page size ${pageSize} is not 1..${MAX_PAGE}`, { code: 'registry.bad-request', op: 'list tags' });
  const tags: string[] = [];
  let next: URL | undefined = new URL(`/v2/${repository}/tags/list?n=${pageSize}`, t.base);
  for (let pages = 0; next && pages < 100_000; pages++) {
    const url: URL = next;
    const op = `list tags of ${repository}`;
    const { res, bytes } = await t.retry(async () => {
      const res = await t.request({ method: 'GET', path: url, scope: repoScope(repository, 'pull'), expect: [200], op });
      return { res, bytes: await readAll(res.body, 16 * 1024 * 1024).catch((err: unknown) => { throw bodyError(err, op, t.host); }) };
    });
    const body = JSON.parse(bytes.toString('utf8')) as { tags?: string[] | null };
    tags.push(...(body.tags ?? []));
    const link = nextLink(res.header('link'));
    next = link ? new URL(link, url) : undefined;
  }
  return tags;
}
