// Browser test of examples/chat: two headless Chromium pages (Debian's chromium driven by
// playwright-core) chat through the courier server, which also serves the page.
//
// Env: COURIER_CHAT_BINARY (the built `chat`), COURIER_SCREENSHOT_DIR (where chat-a.png and
// chat-b.png go; default: a temp folder), CHROMIUM (default /usr/bin/chromium).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const BINARY = process.env.COURIER_CHAT_BINARY;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.COURIER_SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'courier-shots-'));
const ROOM = 'testroom';
const STEP = 10_000;  // any single wait

let server;       // the chat process
let serverLog = '';
let baseUrl;
let browser;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/// Starts the chat binary and resolves once it logged "chat: open http://...".
function startServer(port) {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, [], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => reject(new Error(`chat did not start in ${STEP} ms:\n${serverLog}`)), STEP);
    const onData = (chunk) => {
      serverLog += chunk;
      const m = /chat: open (http:\/\/\S+)/.exec(serverLog);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`chat exited (${code ?? sig}):\n${serverLog}`)); });
  });
}

/// Stops the server by its PID (SIGTERM, then SIGKILL after 5 s); resolves with its exit code (or signal).
function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode ?? child.signalCode);
    const kill = setTimeout(() => process.kill(child.pid, 'SIGKILL'), 5000);
    child.once('exit', (code, signal) => { clearTimeout(kill); resolve(code ?? signal); });
    process.kill(child.pid, 'SIGTERM');
  });
}

async function openChat(nick) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  await page.goto(baseUrl);
  await page.getByTestId('status').filter({ hasText: 'connected' }).waitFor();
  await page.getByTestId('nick-input').fill(nick);
  await page.getByTestId('nick-button').click();
  await page.getByTestId('me').filter({ hasText: `you are ${nick}` }).waitFor();
  return { context, page, errors, nick };
}

async function joinRoom(chat, room) {
  await chat.page.getByTestId('room-input').fill(room);
  await chat.page.getByTestId('join-button').click();
  await chat.page.getByTestId('room-title').filter({ hasText: `#${room}` }).waitFor();
}

async function userNames(page) {
  return (await page.getByTestId('user').allTextContents()).map((t) => t.replace(/you$/, '').trim()).sort();
}

before(async () => {
  assert.ok(BINARY, 'COURIER_CHAT_BINARY must name the built chat binary');
  assert.ok(fs.existsSync(BINARY), `no chat binary at ${BINARY}`);
  assert.ok(fs.existsSync(CHROMIUM), `no chromium at ${CHROMIUM} (apt-get install chromium)`);
  fs.mkdirSync(SHOTS, { recursive: true });
  const started = await startServer(await freePort());
  server = started.child;
  server.removeAllListeners('exit');
  baseUrl = started.url;
  // launch() gives Chromium a fresh temporary --user-data-dir of its own (playwright-core makes
  // it with mkdtemp and removes it on close; it refuses one passed in args).
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (server) await stopServer(server);  // when the test stopped early
});

test('two browsers chat in a room: message, delivered ack, typing, user list', { timeout: 60_000 }, async () => {
  const a = await openChat('Alice');
  const b = await openChat('Bob');

  await joinRoom(a, ROOM);
  await joinRoom(b, ROOM);
  // Alice sees Bob arrive.
  await a.page.getByTestId('notice').filter({ hasText: 'Bob joined' }).waitFor();

  // Typing: B sees A typing while A types (volatile broadcast to the room except the sender).
  await a.page.getByTestId('message-input').pressSequentially('Hello Bob, ', { delay: 30 });
  await b.page.getByTestId('typing').filter({ hasText: 'Alice is typing' }).waitFor();
  assert.equal(await a.page.getByTestId('typing').textContent(), '', 'no typing hint for yourself');
  await a.page.getByTestId('message-input').pressSequentially('this is courier.', { delay: 10 });

  // A sends; B gets it with A's nickname, A sees it delivered (the server's ack).
  await a.page.getByTestId('send-button').click();
  const onB = b.page.getByTestId('message').filter({ hasText: 'Hello Bob, this is courier.' });
  await onB.waitFor();
  assert.equal(await onB.getByTestId('message-author').textContent(), 'Alice');
  assert.equal(await onB.getByTestId('message-text').textContent(), 'Hello Bob, this is courier.');
  const onA = a.page.getByTestId('message').filter({ hasText: 'Hello Bob, this is courier.' });
  await onA.getByTestId('message-delivered').waitFor();
  assert.equal(await onA.getAttribute('data-status'), 'delivered');
  assert.match(await onA.getByTestId('message-delivered').textContent(), /delivered/);
  // Sending ended A's typing hint on B.
  await b.page.getByTestId('typing').filter({ hasText: /^$/ }).waitFor();

  // B answers, so each screenshot shows both sides of the conversation.
  await b.page.getByTestId('message-input').fill('Hi Alice! Loud and clear.');
  await b.page.getByTestId('message-input').press('Enter');
  await a.page.getByTestId('message').filter({ hasText: 'Hi Alice! Loud and clear.' }).waitFor();
  await b.page.getByTestId('message').filter({ hasText: 'Hi Alice! Loud and clear.' }).getByTestId('message-delivered').waitFor();

  // User list (fetch_sockets on the room, nicknames from the sockets' shared data) on each page.
  for (const chat of [a, b]) {
    await chat.page.waitForFunction(() => document.querySelectorAll('[data-testid="user"]').length === 2);
    assert.deepEqual(await userNames(chat.page), ['Alice', 'Bob'], `user list on ${chat.nick}'s page`);
    assert.equal(await chat.page.getByTestId('user-count').textContent(), '2');
  }

  // A starts a second message without sending it: B's screenshot shows the typing hint.
  await a.page.getByTestId('message-input').pressSequentially('One more thing', { delay: 20 });
  await b.page.getByTestId('typing').filter({ hasText: 'Alice is typing' }).waitFor();

  await a.page.screenshot({ path: path.join(SHOTS, 'chat-a.png') });
  await b.page.screenshot({ path: path.join(SHOTS, 'chat-b.png') });

  assert.deepEqual(a.errors, [], 'no errors on Alice\'s page');
  assert.deepEqual(b.errors, [], 'no errors on Bob\'s page');
  await a.context.close();
  await b.context.close();

  // SIGTERM: the server says goodbye and exits 0 (under the sanitizers too: no leak, no error).
  const code = await stopServer(server);
  assert.equal(code, 0, `chat exit status on SIGTERM; its log:\n${serverLog}`);
  assert.match(serverLog, /chat: stopped/);
});
