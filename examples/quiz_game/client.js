#!/usr/bin/env node
"use strict";
// A terminal client for quiz_game (needs socket.io-client 4: `npm install socket.io-client`, or
// NODE_PATH pointing at a node_modules that has it, e.g. examples/chat/node_modules).
//
//   node client.js demo [--base 3021]        a host on A and players on A, B, C: a whole quiz
//   node client.js --url URL --name NAME     interactive; commands on stdin:
//       create [SECONDS] | join GAME | next GAME INDEX | answer GAME INDEX CHOICE
// Every event from the server is printed as one line of JSON.
const { io } = require("socket.io-client");
const readline = require("node:readline");

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};

function connect(url, name, quiet = false) {
  const socket = io(url, { transports: ["websocket"], auth: { name } });
  if (!quiet) socket.onAny((event, payload) => console.log(`[${name}] <- ${event} ${JSON.stringify(payload)}`));
  socket.on("connect_error", (err) => console.log(`[${name}] connect_error: ${err.message}`));
  return socket;
}

async function call(socket, name, event, payload) {
  const reply = await socket.timeout(5000).emitWithAck(event, payload);
  console.log(`[${name}] ${event} ${JSON.stringify(payload)} -> ${JSON.stringify(reply)}`);
  return reply;
}

const next = (socket, event) => new Promise((resolve) => socket.once(event, resolve));

async function demo() {
  const base = Number(opt("--base", "3021"));
  const host = connect(`http://127.0.0.1:${base}`, "host");
  const players = ["ann", "ben", "cid"].map((n, i) => ({ name: n, socket: connect(`http://127.0.0.1:${base + i}`, n, true) }));
  await Promise.all([host, ...players.map((p) => p.socket)].map((s) => next(s, "welcome")));
  const { game, count } = await call(host, "host", "create_game", { question_ms: 4000 });
  for (const p of players) await call(p.socket, p.name, "join_game", { game });
  for (let index = 0; index < count; index++) {
    const asked = next(players[0].socket, "question");
    await call(host, "host", "next_question", { game, index });
    const q = await asked;
    // Each player picks a choice at random, from its own instance.
    for (const p of players) await call(p.socket, p.name, "answer", { game, index, choice: Math.floor(Math.random() * q.choices.length) });
    await next(host, "question_closed");
  }
  host.close();
  for (const p of players) p.socket.close();
}

async function interactive() {
  const name = opt("--name", "");
  if (!name) throw new Error("--name NAME is required");
  const socket = connect(opt("--url", "http://127.0.0.1:3021"), name);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    const [cmd, a, b, c] = line.trim().split(/\s+/);
    try {
      if (cmd === "create") await call(socket, name, "create_game", a ? { question_ms: Number(a) * 1000 } : {});
      else if (cmd === "join") await call(socket, name, "join_game", { game: a });
      else if (cmd === "next") await call(socket, name, "next_question", { game: a, index: Number(b) });
      else if (cmd === "answer") await call(socket, name, "answer", { game: a, index: Number(b), choice: Number(c) });
      else if (cmd) console.log("commands: create [SECONDS] | join GAME | next GAME INDEX | answer GAME INDEX CHOICE");
    } catch (err) {
      console.log(`error: ${err.message}`);
    }
  });
  rl.on("close", () => socket.close());
}

(args[0] === "demo" ? demo() : interactive()).catch((err) => {
  console.error(err.message);
  process.exit(1);
});
