// hoist's entry point: the only module that touches the process (DESIGN §2).

import { main } from './app.ts';
import type { Io } from './io.ts';

// AWS SDK v3 warns on Node 20 about its future support window; that is not the user's
// concern in the middle of a CI job. The SDK reads this when it builds its first client.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => controller.abort());
const io: Io = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  env: process.env,
  stdin: async () => {
    let text = '';
    for await (const chunk of process.stdin) text += String(chunk);
    return text;
  },
  signal: controller.signal,
};
main(process.argv.slice(2), io).then((code) => {
  process.exitCode = code;
});
