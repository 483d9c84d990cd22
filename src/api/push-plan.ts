// What `hoist push` will do, decided before any network call: the tags (rules applied to
// GitLab's variables) and the OCI labels. Problems here join configuration problems, so a
// user sees everything wrong at once.

import { readGitlabContext, type Env, type GitlabContext } from '../ci/gitlab.ts';
import { ociLabels } from '../ci/labels.ts';
import { computeTags } from '../ci/tags.ts';
import { checkPushConfig, type PushConfig, type PushConfigInput } from '../config/push.ts';
import { assertNoProblems, type Problem } from '../errors.ts';
import type { Tag } from '../model/tag.ts';

export interface PushPlan {
  config: PushConfig;
  gitlab: GitlabContext;
  tags: Tag[];
  /** Generated OCI labels with the user's --label on top. */
  labels: Record<string, string>;
}

export function planPush(input: PushConfigInput): PushPlan {
  const problems: Problem[] = [];
  const { config, problems: configProblems } = checkPushConfig(input);
  problems.push(...configProblems);
  const { context: gitlab, problems: ciProblems } = readGitlabContext(input.env as Env);
  problems.push(...ciProblems);
  const tagResult = config
    ? computeTags({ rules: config.tags.rules, explicit: config.tags.explicit, gitlab, defaulted: config.tags.defaulted })
    : { tags: [], problems: [] };
  problems.push(...tagResult.problems);
  assertNoProblems(problems, 'hoist push configuration');
  const labels = ociLabels({ gitlab, tags: tagResult.tags, now: input.now ?? new Date(), user: config!.build.labels });
  return { config: config!, gitlab, tags: tagResult.tags, labels };
}
