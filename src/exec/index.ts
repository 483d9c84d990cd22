// Subprocesses (tier 1): one runner, redaction, and an audit-trail decorator.

export { exec, type ExecRequest, type ExecResult, type Runner, type Stream } from './run.ts';
export { recordingRunner, type RecordedCall, type RecordingRunner } from './record.ts';
export { redact, redactArgs, REDACTED } from './redact.ts';
export { LineSplitter, TailBuffer } from './lines.ts';
export { findOnPath } from './which.ts';
