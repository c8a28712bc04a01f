// Enforced layering of src/: see ../shared/DESIGN.md "Dependency direction" and docs/architecture.md.
const why = 'breaks the layering in docs/architecture.md (section "Layers"): move the code or inject it';
const layer = (from, allowed) => ({
  name: `${from}-layering`,
  severity: 'error',
  comment: `src/${from} may only import ${allowed.join(', ')}: ${why}`,
  from: { path: `^src/${from}/` },
  to: { path: '^src/', pathNot: [`^src/${from}/`, ...allowed.map((a) => `^src/${a}/`)] },
});
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: `circular import: ${why}`, from: {}, to: { circular: true } },
    layer('base', []),
    layer('model', ['base']),
    layer('config', ['model', 'base']),
    layer('pg', ['model', 'base']),
    layer('dcs', ['model', 'base']),
    layer('storage', ['model', 'base']),
    layer('backup', ['storage', 'pg', 'config', 'model', 'base']),
    layer('ha', ['dcs', 'pg', 'config', 'model', 'base']),
    layer('pooler', ['model', 'base']),
    layer('api', ['model', 'base']),
    layer('client', ['api', 'model', 'base']),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
