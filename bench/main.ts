// `npm run bench -- NAME [args]`: runs the default export of bench/NAME.ts. Each bench prints its
// own figures (ratios, percentiles) measured side by side in one run.

const name = process.argv[2]
if (name === undefined || !/^[a-z0-9-]+$/.test(name)) {
  process.stderr.write('usage: npm run bench -- NAME   (a file bench/NAME.ts)\n')
  process.exit(2)
}
await (await import(`./${name}.ts`)).default(process.argv.slice(3))
