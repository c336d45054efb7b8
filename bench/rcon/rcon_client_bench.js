// Drives a game server's RCON with npm's rcon-client (4.2.5), the library
// Clusterio's hosts use, and prints one JSON line with what it measured.
//   node rcon_client_bench.js <node_modules dir> <port> <password> <mode> <n> <body bytes> <maxPending>
// mode "seq": await each command before sending the next.
// mode "all": submit n commands at once (Promise.all); rcon-client keeps at
//             most maxPending on the wire (Clusterio configures 5).
"use strict";
const path = require("path");
const [modDir, port, password, mode, nStr, sizeStr, maxPendingStr] = process.argv.slice(2);
const { Rcon } = require(path.join(modDir, "rcon-client"));

function command(i, size) {
	// `/sc rcon.print(i)` padded with a Lua comment to the body size.
	let c = `/sc rcon.print(${i})`;
	if (size > c.length + 4) c += " --" + "x".repeat(size - c.length - 3);
	return c;
}

async function main() {
	const n = Number(nStr), size = Number(sizeStr);
	const rcon = await Rcon.connect({
		host: "127.0.0.1", port: Number(port), password,
		timeout: 60000, maxPending: Number(maxPendingStr),
	});
	const cmds = [];
	let bytes = 0;
	for (let i = 0; i < n; i++) {
		cmds.push(command(i, size));
		bytes += Buffer.byteLength(cmds[i]) + 14;
	}
	let bad = 0;
	const cpu0 = process.cpuUsage();
	const t0 = process.hrtime.bigint();
	if (mode === "seq") {
		for (let i = 0; i < n; i++) {
			const r = await rcon.send(cmds[i]);
			if (parseInt(r, 10) !== i) bad++;
		}
	} else {
		const rs = await Promise.all(cmds.map(c => rcon.send(c)));
		rs.forEach((r, i) => { if (parseInt(r, 10) !== i) bad++; });
	}
	const secs = Number(process.hrtime.bigint() - t0) / 1e9;
	const cpu = process.cpuUsage(cpu0);
	await rcon.end();
	console.log(JSON.stringify({ n, secs, bytes, bad, cpu_us: cpu.user + cpu.system }));
}

main().catch(e => { console.error("rcon-client bench:", e.message); process.exit(1); });
