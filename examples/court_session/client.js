#!/usr/bin/env node
"use strict";
// A terminal client for court_session (needs socket.io-client 4: `npm install socket.io-client`,
// or NODE_PATH pointing at a node_modules that has it, e.g. examples/chat/node_modules).
//
//   node client.js demo [--base 3011]        alice on instance A, bob on instance B: one whole session
//   node client.js --url URL --user ID       interactive; commands on stdin:
//       create PARTNER | join SESSION | evidence SESSION TEXT... | end SESSION | get SESSION
// Every event from the server is printed as one line of JSON.
const { io } = require("socket.io-client");
const readline = require("node:readline");

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};

function connect(url, user) {
  const socket = io(url, { transports: ["websocket"], auth: { user } });
  socket.onAny((event, payload) => console.log(`[${user}] <- ${event} ${JSON.stringify(payload)}`));
  socket.on("connect_error", (err) => console.log(`[${user}] connect_error: ${err.message}`));
  return socket;
}

async function call(socket, user, event, payload) {
  const reply = await socket.timeout(5000).emitWithAck(event, payload);
  console.log(`[${user}] ${event} ${JSON.stringify(payload)} -> ${JSON.stringify(reply)}`);
  return reply;
}

function phase(socket, session, want) {
  return new Promise((resolve) => {
    const on = (s) => {
      if (s.session === session && s.phase === want) {
        socket.off("state", on);
        resolve(s);
      }
    };
    socket.on("state", on);
  });
}

async function demo() {
  const base = Number(opt("--base", "3011"));
  const alice = connect(`http://127.0.0.1:${base}`, "alice");
  const bob = connect(`http://127.0.0.1:${base + 1}`, "bob");
  await Promise.all([alice, bob].map((s) => new Promise((r) => s.once("welcome", r))));
  const { state } = await call(alice, "alice", "create_session", { partner: "bob" });
  const session = state.session;
  await call(bob, "bob", "join_session", { session });
  await call(alice, "alice", "submit_evidence", { session, text: "the signed contract" });
  await call(bob, "bob", "submit_evidence", { session, text: "the delivery note" });
  const closed = await phase(alice, session, "closed");
  console.log(`demo: session ${session} closed by instance ${closed.by}: ${closed.verdict}`);
  alice.close();
  bob.close();
}

async function interactive() {
  const user = opt("--user", "");
  if (!user) throw new Error("--user ID is required");
  const socket = connect(opt("--url", "http://127.0.0.1:3011"), user);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    const [cmd, id, ...rest] = line.trim().split(/\s+/);
    try {
      if (cmd === "create") await call(socket, user, "create_session", { partner: id });
      else if (cmd === "join") await call(socket, user, "join_session", { session: id });
      else if (cmd === "evidence") await call(socket, user, "submit_evidence", { session: id, text: rest.join(" ") });
      else if (cmd === "end") await call(socket, user, "end_evidence", { session: id });
      else if (cmd === "get") await call(socket, user, "get_session", { session: id });
      else if (cmd) console.log("commands: create PARTNER | join SESSION | evidence SESSION TEXT | end SESSION | get SESSION");
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
