"use strict";
// A socket.io-client socket wrapper for the cluster suites: records every event it receives
// (onAny) so a test can wait for an event that may already have arrived, or check that one never
// did.

const { withTimeout } = require("./eio");

const WAIT = 3000; // default wait for something that must happen

/** A client socket that records every event it receives (onAny), so tests can wait for an event
 *  that may already have arrived, and check that an event never arrived. */
class Peer {
  constructor(socket, server) {
    this.socket = socket;
    this.server = server; // server name
    this.events = []; // { event, args, taken }
    this.waiters = [];
    socket.onAny((event, ...args) => {
      const entry = { event, args, taken: false };
      this.events.push(entry);
      const i = this.waiters.findIndex((w) => w.event === event);
      if (i >= 0) {
        entry.taken = true;
        this.waiters.splice(i, 1)[0].resolve(args);
      }
    });
  }

  get id() {
    return this.socket.id;
  }

  get label() {
    return `${this.id}@${this.server}`;
  }

  /** Arguments of the next not-yet-consumed `event` (waits up to `ms`). */
  next(event, ms = WAIT) {
    const entry = this.events.find((e) => e.event === event && !e.taken);
    if (entry) {
      entry.taken = true;
      return Promise.resolve(entry.args);
    }
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { event, resolve };
      this.waiters.push(waiter);
    });
    return withTimeout(p, ms, `event "${event}" on socket ${this.label}`).catch((err) => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      throw err;
    });
  }

  /** All arguments received so far for `event`. */
  all(event) {
    return this.events.filter((e) => e.event === event).map((e) => e.args);
  }

  emitWithAck(...args) {
    return withTimeout(this.socket.emitWithAck(...args), WAIT, `ack of "${args[0]}" from ${this.label}`);
  }

  /** Resolves with the "disconnect" reason (waits up to `ms`). */
  disconnected(ms = WAIT) {
    if (!this.socket.connected && this.reason) return Promise.resolve(this.reason);
    return withTimeout(
      new Promise((resolve) => this.socket.once("disconnect", resolve)),
      ms,
      `"disconnect" on socket ${this.label}`
    );
  }
}

module.exports = { Peer };
