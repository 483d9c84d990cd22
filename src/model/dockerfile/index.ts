// The Dockerfile model: parser (parse.ts), lexer (lex.ts), variable expansion (expand.ts).

export { parseDockerfile } from './parse.ts';
export { expandWord, ExpandError, type Vars } from './expand.ts';
export { lex, splitWords, type Directives, type Heredoc } from './lex.ts';
export { parseGoDuration, parseJsonArray } from './instructions.ts';
export type * from './types.ts';
