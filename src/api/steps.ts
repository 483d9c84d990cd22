// Runs the named steps of a verb, timing each and reporting start and end, so the CLI can
// show progress and the report can say what each step cost.

export interface StepEvent<N extends string = string> {
  step: N;
  phase: 'start' | 'end';
  detail?: string;
  ms?: number;
}

export interface StepRecord<N extends string = string> {
  step: N;
  ms: number;
  detail: string;
}

export interface Stepper<N extends string> {
  readonly steps: StepRecord<N>[];
  run<T>(name: N, fn: () => Promise<T>, detail: (v: T) => string): Promise<T>;
}

export function stepper<N extends string>(onStep?: (e: StepEvent<N>) => void): Stepper<N> {
  const steps: StepRecord<N>[] = [];
  return {
    steps,
    async run(name, fn, detail) {
      onStep?.({ step: name, phase: 'start' });
      const t0 = performance.now();
      const v = await fn();
      const s = { step: name, ms: Math.round(performance.now() - t0), detail: detail(v) };
      steps.push(s);
      onStep?.({ step: name, phase: 'end', detail: s.detail, ms: s.ms });
      return v;
    },
  };
}
