// courier chat: the browser side. Plain JavaScript over the official socket.io client (global `io`).
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const el = {
    nickForm: $('nick-form'), nickInput: $('nick-input'),
    roomForm: $('room-form'), roomInput: $('room-input'), leave: $('leave-button'),
    formError: $('form-error'),
    usersRoom: $('users-room'), userCount: $('user-count'), userList: $('user-list'),
    status: $('status'), statusDot: $('status-dot'),
    roomTitle: $('room-title'), me: $('me'),
    messages: $('messages'), typing: $('typing'),
    composer: $('composer'), messageInput: $('message-input'),
  };

  // ?nick=ada&room=dev preset the first connection; a tab remembers its nickname across reloads.
  const params = new URLSearchParams(location.search);
  const state = {
    id: null,
    nick: params.get('nick') || sessionStorage.getItem('courier-chat-nick') || '',
    room: params.get('room') || 'lobby',
    typers: new Map(),  // socket id -> { nick, timer }
  };

  // The auth payload is read on every (re)connection, so a reconnect lands in the same room.
  const socket = io({ auth: (cb) => cb({ nick: state.nick, room: state.room }) });

  // ---- rendering ---------------------------------------------------------------------------

  const timeOf = (ts) => new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

  function scrollToEnd() {
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function addNotice(text) {
    const li = document.createElement('li');
    li.className = 'notice';
    li.dataset.testid = 'notice';
    li.textContent = text;
    el.messages.append(li);
    scrollToEnd();
  }

  /// One message: author, time, text and (for mine) a delivery marker set from the server's ack.
  function addMessage({ nick, text, ts, mine }) {
    const li = document.createElement('li');
    li.className = 'message ' + (mine ? 'mine' : 'theirs');
    li.dataset.testid = 'message';
    li.dataset.status = mine ? 'pending' : 'received';

    const meta = document.createElement('div');
    meta.className = 'meta';
    const author = document.createElement('span');
    author.className = 'author';
    author.dataset.testid = 'message-author';
    author.textContent = nick;
    const time = document.createElement('time');
    time.textContent = timeOf(ts || Date.now());
    meta.append(author, time);

    const body = document.createElement('div');
    body.className = 'text';
    body.dataset.testid = 'message-text';
    body.textContent = text;

    li.append(meta, body);
    if (mine) {
      const mark = document.createElement('span');
      mark.className = 'delivery';
      mark.dataset.testid = 'message-delivery';
      mark.textContent = 'sending\u2026';
      li.append(mark);
    }
    el.messages.append(li);
    scrollToEnd();
    return li;
  }

  function markDelivery(li, ok) {
    li.dataset.status = ok ? 'delivered' : 'failed';
    const mark = li.querySelector('.delivery');
    mark.textContent = ok ? '\u2713 delivered' : '\u2717 not delivered';
    if (ok) mark.dataset.testid = 'message-delivered';
  }

  function renderUsers(room, users) {
    if (room !== state.room) return;
    el.userList.replaceChildren(...users
      .slice()
      .sort((a, b) => a.nick.localeCompare(b.nick))
      .map((u) => {
        const li = document.createElement('li');
        li.dataset.testid = 'user';
        li.textContent = u.nick;
        if (u.id === state.id) {
          li.classList.add('self');
          const you = document.createElement('span');
          you.className = 'you';
          you.textContent = 'you';
          li.append(you);
        }
        return li;
      }));
    el.userCount.textContent = String(users.length);
  }

  function renderTyping() {
    const names = [...state.typers.values()].map((t) => t.nick);
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing\u2026`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing\u2026`;
    else if (names.length > 2) text = 'several people are typing\u2026';
    el.typing.textContent = text;
    el.typing.classList.toggle('active', names.length > 0);
  }

  function clearTypers() {
    for (const t of state.typers.values()) clearTimeout(t.timer);
    state.typers.clear();
    renderTyping();
  }

  function setMe(nick) {
    state.nick = nick;
    sessionStorage.setItem('courier-chat-nick', nick);
    el.me.textContent = `you are ${nick}`;
    if (document.activeElement !== el.nickInput) el.nickInput.value = nick;
  }

  function setRoom(room) {
    const changed = room !== state.room || el.messages.childElementCount === 0;
    state.room = room;
    el.roomTitle.textContent = '#' + room;
    el.usersRoom.textContent = '#' + room;
    el.messageInput.placeholder = 'Message #' + room;
    el.leave.hidden = room === 'lobby';
    if (changed) {
      el.messages.replaceChildren();
      el.userList.replaceChildren();
      el.userCount.textContent = '0';
      clearTypers();
      addNotice(`You joined #${room}`);
    }
  }

  function showError(text) {
    el.formError.textContent = text || '';
  }

  function setStatus(text, kind) {
    el.status.textContent = text;
    el.statusDot.className = 'dot ' + kind;
  }

  function refreshUsers() {
    socket.timeout(5000).emit('who', (err, res) => {
      if (!err && res) renderUsers(res.room, res.users);
    });
  }

  // ---- server events -----------------------------------------------------------------------

  socket.on('connect', () => setStatus('connected', 'on'));
  socket.on('disconnect', () => setStatus('disconnected, reconnecting\u2026', 'off'));
  socket.on('connect_error', (err) => setStatus('cannot connect: ' + err.message, 'off'));

  socket.on('welcome', ({ id, nick, room }) => {
    state.id = id;
    setMe(nick);
    setRoom(room);
  });
  socket.on('users', ({ room, users }) => renderUsers(room, users));
  socket.on('notice', ({ room, text }) => {
    if (room === state.room) addNotice(text);
  });
  socket.on('message', (m) => {
    if (m.room !== state.room) return;
    const t = state.typers.get(m.from);
    if (t) {
      clearTimeout(t.timer);
      state.typers.delete(m.from);
      renderTyping();
    }
    addMessage({ nick: m.nick, text: m.text, ts: m.ts, mine: false });
  });
  socket.on('typing', ({ id, nick, typing }) => {
    const old = state.typers.get(id);
    if (old) clearTimeout(old.timer);
    if (typing) {
      // A hint, not a promise: it fades unless renewed.
      state.typers.set(id, { nick, timer: setTimeout(() => { state.typers.delete(id); renderTyping(); }, 4000) });
    } else {
      state.typers.delete(id);
    }
    renderTyping();
  });

  // ---- user actions ------------------------------------------------------------------------

  el.nickForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const nick = el.nickInput.value.trim();
    if (!nick) return;
    socket.timeout(5000).emit('set-nick', nick, (err, res) => {
      if (err) return showError('no answer from the server');
      if (!res.ok) return showError(res.error);
      showError('');
      el.nickInput.blur();
      setMe(res.nick);
    });
  });

  function join(room) {
    socket.timeout(5000).emit('join', room, (err, res) => {
      if (err) return showError('no answer from the server');
      if (!res.ok) return showError(res.error);
      showError('');
      el.roomInput.value = '';
      setRoom(res.room);
      refreshUsers();
      el.messageInput.focus();
    });
  }
  el.roomForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const room = el.roomInput.value.trim();
    if (room) join(room);
  });
  el.leave.addEventListener('click', () => join('lobby'));

  // Typing: "true" when typing starts (renewed every 2 s while it goes on), "false" after 2.5 s idle
  // or when the message is sent.
  let typingSentAt = 0;
  let idleTimer = null;
  function stopTyping() {
    clearTimeout(idleTimer);
    idleTimer = null;
    if (typingSentAt) {
      typingSentAt = 0;
      socket.emit('typing', false);
    }
  }
  el.messageInput.addEventListener('input', () => {
    if (!el.messageInput.value) return stopTyping();
    const now = Date.now();
    if (now - typingSentAt > 2000) {
      typingSentAt = now;
      socket.emit('typing', true);
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopTyping, 2500);
  });

  el.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = el.messageInput.value.trim();
    if (!text) return;
    el.messageInput.value = '';
    stopTyping();
    const li = addMessage({ nick: state.nick, text, ts: Date.now(), mine: true });
    // The server acks after broadcasting to the room: that is "delivered".
    socket.timeout(10000).emit('message', text, (err, res) => markDelivery(li, !err && res && res.ok));
  });
})();
