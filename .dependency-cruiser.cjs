// The layers of src/, written once: lowest first. A file may import from its own layer or a
// lower one, never a higher one, and no import may close a cycle (npm run lint:deps; scripts/test.sh
// runs it next to ESLint). docs/architecture.md draws this order; change both together.
//
// Each layer lists the paths (regular expressions over paths from the repo root) that belong to it.
// A file under src/ that is in no layer is refused too, so a new folder gets a place on purpose.
// There is no baseline of known violations: the last ones (runbooks importing the step registry,
// three ModuleRef look-ups) were fixed, so any violation fails the check.
const LAYERS = [
  // The one reader of process.env.
  { name: 'config', paths: ['^src/config/'] },
  { name: 'common', paths: ['^src/common/'] },
  // Spans and trace context: the AWS caller, the executor and the HTTP layer open spans.
  { name: 'tracing', paths: ['^src/tracing/'] },
  // The records everything else passes around (runs, steps, runbook definitions, fleets, findings): types and pure helpers.
  { name: 'model', paths: ['^src/model/'] },
  { name: 'persistence', paths: ['^src/persistence/'] },
  { name: 'audit', paths: ['^src/audit/'] },
  // Test-only fault points, hit by the AWS caller, the executor and steps.
  { name: 'faults', paths: ['^src/faults/'] },
  { name: 'aws', paths: ['^src/aws/'] },
  // Models that only compute, from records and answers they are given.
  { name: 'compute', paths: ['^src/capacity/', '^src/resilience/'] },
  // Building a run's report from its recorded steps and rendering it: pure functions, called by the
  // engine inside a run's last transaction and by the HTTP API when a report is read.
  { name: 'reports', paths: ['^src/reports/'] },
  // Loading and checking runbook definitions, from what step types say about themselves (a port
  // in runbooks/, so the loader knows no step type).
  { name: 'runbooks', paths: ['^src/runbooks/'] },
  // The step contract and the registry of step types: what the engine runs steps through.
  { name: 'step contract', paths: ['^src/steps/step\\.contract\\.ts$', '^src/steps/step-registry\\.ts$'] },
  // Who may do what, where and when.
  { name: 'policy', paths: ['^src/policy/'] },
  { name: 'auth', paths: ['^src/auth/'] },
  { name: 'engine', paths: ['^src/engine/'] },
  // A fleet is accepted through the engine's acceptance; its step (fleet.run) is above.
  { name: 'fleets', paths: ['^src/fleets/'] },
  { name: 'steps', paths: ['^src/steps/'] },
  // Where the world comes in or hears back: the HTTP API, alarm and schedule triggers, notifications, chat, health and metrics.
  { name: 'entry points', paths: ['^src/http/', '^src/triggers/', '^src/notifications/', '^src/chat/', '^src/observability/'] },
  // The Nest modules and main.ts, which wire everything together.
  { name: 'composition', paths: ['^src/[^/]+\\.ts$'] },
];

// The `runbookd` command is a client of the HTTP API: from the server it takes only what it
// shares (the offline loader with the step catalog it checks against, the policy files' parsers).
const CLI = '^src/cli/';
const CLI_MAY_IMPORT = ['^src/cli/', '^src/common/', '^src/model/', '^src/runbooks/', '^src/steps/step-catalog\\.ts$', '^src/steps/step-registry\\.ts$', '^src/steps/step\\.contract\\.ts$', '^src/policy/policy-file\\.ts$', '^src/policy/policy\\.types\\.ts$', '^src/resilience/resilience-policy-file\\.ts$', '^src/resilience/resilience-policy\\.types\\.ts$'];

// A path is matched by the first layer that lists it (steps' contract and registry before steps/).
const layerOf = (index) => LAYERS[index].paths;
const claimedBefore = (index) => LAYERS.slice(0, index).flatMap((l) => l.paths);
const above = (index) => LAYERS.slice(index + 1).flatMap((l) => l.paths);

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer:${layer.name}`,
  severity: 'error',
  comment: `${layer.name} is below ${LAYERS.slice(i + 1).map((l) => l.name).join(', ')}: it may import only from its own layer or lower ones (order in .dependency-cruiser.cjs)`,
  from: { path: layerOf(i), pathNot: claimedBefore(i) },
  to: { path: above(i), pathNot: LAYERS.slice(0, i + 1).flatMap((l) => l.paths) },
}));

const allLayered = [...LAYERS.flatMap((l) => l.paths), CLI];

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'two modules that import each other (directly or through others) cannot be understood, tested or moved apart',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'steps-reach-records-through-engine-ports',
      severity: 'error',
      comment: 'a step reads runs and records only through the ports in src/engine/ (RunReader, ...), so no step writes behind the run lease',
      from: { path: '^src/steps/' },
      to: { path: '^src/persistence/' },
    },
    {
      name: 'no-module-ref-lookups',
      severity: 'error',
      comment: 'a ModuleRef look-up hides a dependency cycle from Nest and from this check: the engine hands steps what they call back into through their context',
      from: { path: ['^src/engine/', '^src/steps/', '^src/runbooks/'] },
      to: { path: 'node_modules/@nestjs/core/' },
    },
    {
      name: 'cli-imports-what-it-shares',
      severity: 'error',
      comment: 'the CLI is a client of the HTTP API: it may import the offline loader, step catalog and policy file, nothing that runs the server',
      from: { path: CLI },
      to: { path: '^src/', pathNot: CLI_MAY_IMPORT },
    },
    {
      name: 'server-does-not-import-cli',
      severity: 'error',
      comment: 'the server does not depend on its own client',
      from: { path: '^src/', pathNot: CLI },
      to: { path: CLI },
    },
    {
      name: 'in-a-layer',
      severity: 'error',
      comment: 'every file under src/ belongs to a layer: add its folder to LAYERS in .dependency-cruiser.cjs',
      from: { path: '^src/', pathNot: allLayered },
      to: {},
    },
    {
      name: 'to-a-layer',
      severity: 'error',
      comment: 'every file under src/ belongs to a layer: add its folder to LAYERS in .dependency-cruiser.cjs',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: allLayered },
    },
  ],
  options: {
    // Packages are leaves, not followed, but kept: no-module-ref-lookups is an import of @nestjs/core.
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    // A worktree whose node_modules links to another checkout names packages as a clone does.
    preserveSymlinks: true,
    // Type-only imports count: a type is a dependency too (report.types importing Finding ties reports to where Finding lives).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
    reporterOptions: { text: { highlightFocused: true } },
  },
};
