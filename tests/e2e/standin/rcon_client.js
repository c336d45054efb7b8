// Drives the stand-in with npm's rcon-client: auth, /sc rcon.print, the
// achievements warning, pipelined sends, and a refused password.
const assert = require("assert");
const { Rcon } = require("rcon-client");

async function main() {
  const port = Number(process.argv[2]);
  const password = process.argv[3];
  const rcon = await Rcon.connect({ host: "127.0.0.1", port, password, timeout: 5000 });
  const warning = await rcon.send("/sc rcon.print('disabled')");
  assert.match(warning, /disable achievements/);
  assert.strictEqual(await rcon.send("/sc rcon.print('disabled')"), "disabled\n");
  assert.strictEqual(await rcon.send("/sc rcon.print('hello from ' .. 'standin')"),
                     "hello from standin\n");
  const many = await Promise.all(
    Array.from({ length: 50 }, (_, i) => rcon.send(`/sc rcon.print(${i} * 2)`)));
  many.forEach((r, i) => assert.strictEqual(r, `${i * 2}\n`));
  assert.strictEqual(await rcon.send("/players online"), "Online players (0):\n");
  await rcon.end();
  await assert.rejects(
    Rcon.connect({ host: "127.0.0.1", port, password: "wrong", timeout: 5000 }),
    /Authentication failed/);
  console.log("rcon-client: ok");
}

main().catch((e) => { console.error(e); process.exit(1); });
