// Fails early, with the fix, when the tests would run on the wrong Node.
// `npm test` puts node_modules/.bin first on PATH, where the `node` devDependency
// provides Node 24 even on a machine whose system Node is older.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `pod-dag-action needs Node 24 (the runtime of 'runs.using: node24'), but this is Node ${process.versions.node}.\n` +
      `Run 'npm ci' first: it installs Node 24 from the 'node' devDependency into node_modules/.bin.`,
  );
  process.exit(1);
}
