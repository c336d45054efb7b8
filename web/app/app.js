/*
 * clusterd web UI: plain JavaScript, no framework, no build step
 * (docs/decisions.md). Every node serves it at `/`; it talks to the node
 * that served it through the HTTP API (docs/api.md) and stays live through
 * the node's event stream (GET /api/v1/events, Server-Sent Events read with
 * fetch so the token travels in a header). Instances run on every node and
 * their status changes are events of the node that runs them, so the UI
 * also follows the other members' streams (CORS allows pages of members).
 * Nothing polls on a timer: data is fetched when a page opens and again
 * when an event says it changed.
 */
'use strict';
(function () {
  const API = '/api/v1';
  const enc = encodeURIComponent;
  // The API's paths, in one place (docs/api.md). Resources another node
  // version may lack answer 404 "no such endpoint": their page says so.
  const EP = {
    members: '/cluster/members', raft: '/cluster/raft',
    transfer: '/cluster/transfer-leader',
    instances: '/instances', instance: (n) => '/instances/' + enc(n),
    action: (n, a) => '/instances/' + enc(n) + '/' + a,
    config: (n) => '/instances/' + enc(n) + '/config',
    log: (n) => '/instances/' + enc(n) + '/log',
    saves: (n) => '/instances/' + enc(n) + '/saves',
    save: (n, s) => '/instances/' + enc(n) + '/saves/' + enc(s),
    users: '/users', user: (u) => '/users/' + enc(u), roles: '/roles',
    tokens: '/tokens', items: '/items', inventories: '/inventories',
    plugins: '/plugins', events: '/events',
  };
  const TOKEN_KEY = 'clusterd_token';
  const DEBOUNCE_MS = 50;       // coalesces bursts of events into one fetch
  const RETRY_MS = 2000;        // reconnect delay of an event stream
  const REMOTE_STREAMS_MAX = 16; // other members followed at most
  const LOG_LINES_MAX = 500;    // lines a live log view keeps

  const S = {
    token: null, role: null, denied: {}, page: null, arg: null,
    down: false, streams: {}, logStream: null,
    metrics: { start: performance.now(), ready: null, hello: null, events: 0, remoteEvents: 0, lastEvent: null },
  };
  // status: an instance's latest status; statusAt: when an event set it
  // (a fetch that began before that event must not overwrite it).
  const D = { members: null, raft: null, instances: null, status: {}, statusAt: {}, shows: {}, chat: [] };
  const CHAT_MAX = 50; // chat lines the overview keeps
  window.clusterdUI = { S, D, metrics: S.metrics };

  // ---- DOM helpers ---------------------------------------------------
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }
  const $ = (sel) => document.querySelector(sel);
  let uid = 0;
  // A labelled input: the label names it for screen readers and tests.
  function field(label, props) {
    const id = props.id || 'f' + (++uid);
    const tag = props.tag || 'input';
    const p = Object.assign({}, props, { id });
    delete p.tag;
    const opts = p.options || [];
    delete p.options;
    const input = h(tag, p, opts.map((o) => h('option', { value: o[0] }, o[1])));
    return h('div', { class: 'field' }, h('label', { for: id }, label), input);
  }
  function status(word) {
    return h('span', { class: 'st st-' + (word || 'unknown') }, word || 'unknown');
  }
  function table(cols, rows, empty) {
    if (!rows.length) return h('p', { class: 'muted' }, empty || 'Nothing here yet.');
    return h('table', {}, h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows));
  }
  function toast(msg, bad) {
    const d = h('div', { class: bad ? 'bad' : '' }, msg);
    $('#toast').append(d);
    setTimeout(() => d.remove(), bad ? 8000 : 4000);
  }
  function notAvailable(what) {
    return h('div', { class: 'na' }, what + ' is not available on this node (its API does not offer it yet).');
  }
  function denied(perm) {
    return h('div', { class: 'na' }, 'This token lacks the permission ' + (perm ? "'" + perm + "'" : '') + ' to see this.');
  }
  // Write controls carry data-perm; a token without it does not see them.
  function can(perm) {
    if (S.denied[perm]) return false;
    if (S.role === 'read') return perm.endsWith('.read');
    return true;
  }
  function guard(perm, el) {
    el.setAttribute('data-perm', perm);
    if (!can(perm)) el.hidden = true;
    return el;
  }
  function deny(perm) {
    if (S.denied[perm]) return;
    S.denied[perm] = true;
    document.querySelectorAll('[data-perm="' + perm + '"]').forEach((e) => { e.hidden = true; });
  }

  // ---- The API -------------------------------------------------------
  async function call(method, path, body, opt) {
    opt = opt || {};
    const base = opt.base || '';
    const headers = { Authorization: 'Bearer ' + S.token };
    let payload;
    if (body instanceof Blob) payload = body;
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(base + API + path, { method, headers, body: payload, cache: 'no-store' });
    } catch (e) {
      if (!base) checkNode();
      return { status: 0, error: 'the node does not answer' };
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    const r = { status: res.status, data, error: data && data.error };
    if (res.status === 401 && !base) logout('The node refused the token: ' + (r.error || ''));
    if (res.status === 403) {
      const m = /permission '([^']+)'/.exec(r.error || '');
      r.perm = m ? m[1] : null;
      if (m) deny(m[1]);
    }
    if (res.status === 404 && /^no such (endpoint|action|resource)/.test(r.error || '')) r.missing = true;
    if (res.status === 405) r.missing = true;
    return r;
  }
  // Runs a write, says what happened, and returns whether it worked.
  async function act(what, method, path, body) {
    const r = await call(method, path, body);
    if (r.status >= 200 && r.status < 300) { toast(what + ': done'); return r; }
    if (r.missing) toast(what + ': not available on this node', true);
    else if (r.status === 403) toast(what + ': not allowed for this token (' + (r.error || '') + ')', true);
    else toast(what + ': ' + (r.error || 'HTTP ' + r.status), true);
    return null;
  }
  function firstArray(data) {
    if (Array.isArray(data)) return data;
    if (data && typeof data === 'object')
      for (const v of Object.values(data)) if (Array.isArray(v)) return v;
    return [];
  }

  // ---- Data ------------------------------------------------------------
  const timers = {};
  function soon(key, fn) {
    if (timers[key]) return;
    timers[key] = setTimeout(() => { delete timers[key]; fn(); }, DEBOUNCE_MS);
  }
  async function loadCluster() {
    const [m, r] = await Promise.all([call('GET', EP.members), call('GET', EP.raft)]);
    if (m.status === 200) D.members = m.data.members;
    else if (m.status === 403) D.members = { denied: m.perm };
    if (r.status === 200) D.raft = r.data;
    else if (r.status === 403) D.raft = { denied: r.perm };
    followMembers();
    updatePage('cluster');
  }
  function fetchedStatus(name, word, since) {
    if (!(D.statusAt[name] > since)) D.status[name] = word;
  }
  async function loadInstances() {
    const since = performance.now();
    const r = await call('GET', EP.instances);
    if (r.status === 200) {
      D.instances = r.data.instances;
      for (const i of D.instances) if (i.status !== 'remote') fetchedStatus(i.name, i.status, since);
      // Instances of other nodes: their node answers (forwarded by ours).
      const remote = D.instances.filter((i) => i.status === 'remote').slice(0, 50);
      await Promise.all(remote.map(loadShow));
    } else if (r.status === 403) D.instances = { denied: r.perm };
    updatePage('instances');
  }
  async function loadShow(i) {
    const since = performance.now();
    const r = await call('GET', EP.instance(i.name));
    if (r.status === 200) { D.shows[i.name] = r.data; fetchedStatus(i.name, r.data.status, since); }
  }
  function nodeNames() {
    return Array.isArray(D.members) ? D.members.map((m) => m.name) : [];
  }
  function instStatus(i) {
    return D.status[i.name] || i.status;
  }

  // ---- Event streams -----------------------------------------------------
  // Reads Server-Sent Events with fetch (EventSource cannot send the
  // token). Reconnects after RETRY_MS with Last-Event-ID until closed.
  function openStream(base, query, onEvent, onState) {
    const st = { closed: false, lastId: null, ctl: null };
    async function run() {
      while (!st.closed) {
        st.ctl = new AbortController();
        try {
          const headers = { Authorization: 'Bearer ' + S.token };
          if (st.lastId) headers['Last-Event-ID'] = st.lastId;
          const res = await fetch(base + API + EP.events + (query || ''),
            { headers, signal: st.ctl.signal, cache: 'no-store' });
          if (res.status === 401 && !base) { logout('The node refused the token'); return; }
          if (res.status === 403 || res.status === 404) { onState('unavailable', res.status); return; }
          if (res.status !== 200) throw new Error('HTTP ' + res.status);
          onState('open');
          const reader = res.body.getReader();
          const dec = new TextDecoder();
          let buf = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true });
            let i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              let data = '';
              for (const line of block.split('\n')) {
                if (line.startsWith('id: ')) st.lastId = line.slice(4);
                else if (line.startsWith('data: ')) data += line.slice(6);
              }
              if (data) {
                try { onEvent(JSON.parse(data)); } catch (e) { console.error('event', e, data); }
              }
            }
          }
        } catch (e) {
          if (st.closed) return;
        }
        if (st.closed) return;
        onState('closed');
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
    st.close = () => { st.closed = true; if (st.ctl) st.ctl.abort(); };
    run();
    return st;
  }

  function onEvent(ev) {
    S.metrics.events++;
    S.metrics.lastEvent = performance.now();
    switch (ev.type) {
      case 'hello':
        if (S.metrics.hello === null) S.metrics.hello = performance.now();
        if (!ev.resumed) refreshAll();
        break;
      case 'domain':
        if (ev.domain === 'cluster') soon('cluster', loadCluster);
        else if (ev.domain === 'instances') soon('instances', loadInstances);
        else soon('page:' + ev.domain, () => updatePage(ev.domain));
        break;
      case 'leader': case 'member':
        soon('cluster', loadCluster);
        break;
      case 'instance':
        applyStatus(ev);
        break;
      case 'log':
        break; // only the log view's own stream asks for logs
      case 'player':
        playerChanged(ev);
        break;
      case 'chat':
        addChat(ev);
        break;
      default:
        updatePage(ev.type);
    }
  }
  function applyStatus(ev) {
    S.metrics.lastEvent = performance.now();
    D.status[ev.name] = ev.status;
    D.statusAt[ev.name] = performance.now();
    document.querySelectorAll('[data-inst-status]').forEach((el) => {
      if (el.getAttribute('data-inst-status') !== ev.name) return;
      el.replaceChildren(status(ev.status));
      el.setAttribute('data-updated', String(Date.now()));
    });
    updatePage('instance-status');
  }
  // Chat is an event of the node whose game it was typed in.
  function addChat(ev) {
    D.chat.push({ at: new Date(), inst: ev.instance_name, player: ev.player, message: ev.message });
    if (D.chat.length > CHAT_MAX) D.chat.shift();
    const el = $('#chat');
    if (el) el.replaceChildren(chatTable());
  }
  function chatTable() {
    return table(['Time', 'Instance', 'Player', 'Message'], D.chat.slice().reverse().map((c) => h('tr', {},
      h('td', {}, c.at.toLocaleTimeString()), h('td', {}, c.inst), h('td', {}, c.player), h('td', {}, c.message))),
    'No chat since this page opened.');
  }
  // A player joined or left an instance: its record lists who is online.
  function playerChanged(ev) {
    const i = Array.isArray(D.instances) ? D.instances.find((x) => x.name === ev.instance_name) : null;
    if (i) soon('show:' + i.name, () => loadShow(i).then(() => updatePage('instance-status')));
  }
  function setConn(text, cls) {
    const c = $('#conn');
    c.textContent = text;
    c.className = 'conn ' + (cls || '');
  }
  function openMain() {
    S.streams.self = openStream('', '', onEvent, (state, code) => {
      if (state === 'open') {
        setConn('live: ' + location.host, 'live');
        if (S.down) { S.down = false; renderBanner(); }
      } else if (state === 'unavailable') {
        setConn(code === 403 ? 'no live updates (token lacks events.read)' : 'no live updates on this node');
        refreshAll(); // without a stream, the page loads once (no hello)
      } else {
        setConn('reconnecting…', 'down');
        checkNode();
      }
    });
  }
  // The members of the cluster run instances too: follow their streams
  // for status changes (events of instances are local to their node).
  function followMembers() {
    if (!Array.isArray(D.members)) return;
    const want = {};
    for (const m of D.members) {
      if (!m.http || m.http === location.host || m.state !== 'alive') continue;
      if (Object.keys(want).length >= REMOTE_STREAMS_MAX) break;
      want[m.http] = true;
      if (S.streams[m.http]) continue;
      S.streams[m.http] = openStream('http://' + m.http, '', (ev) => {
        S.metrics.remoteEvents++;
        if (ev.type === 'instance') applyStatus(ev);
        else if (ev.type === 'player') playerChanged(ev);
        else if (ev.type === 'chat') addChat(ev);
        // A fresh stream may have missed changes: fetch the statuses again.
        else if (ev.type === 'hello' && !ev.resumed) soon('instances', loadInstances);
      }, () => {});
    }
    for (const k of Object.keys(S.streams)) {
      if (k !== 'self' && !want[k]) { S.streams[k].close(); delete S.streams[k]; }
    }
  }

  // ---- When the node goes away -----------------------------------------
  let checking = false;
  async function checkNode() {
    if (checking) return;
    checking = true;
    try {
      const r = await fetch(API + '/status', { cache: 'no-store' });
      if (r.ok && S.down) { S.down = false; renderBanner(); }
    } catch (e) {
      if (!S.down) { S.down = true; renderBanner(); }
    } finally { checking = false; }
  }
  function switchLink(m) {
    const page = location.hash.replace(/^#/, '') || '/overview';
    return 'http://' + m.http + '/#token=' + enc(S.token) + '&page=' + enc(page);
  }
  function renderBanner() {
    const b = $('#banner');
    $('#main').classList.toggle('stale', S.down);
    if (!S.down) { b.hidden = true; b.replaceChildren(); return; }
    const others = Array.isArray(D.members)
      ? D.members.filter((m) => m.http && m.http !== location.host && m.state !== 'left') : [];
    b.replaceChildren(
      h('strong', {}, 'The node ' + location.host + ' does not answer.'),
      ' The page keeps retrying it. ',
      others.length ? 'Continue on another node of the cluster:' : 'No other node is known.',
      others.length ? h('ul', {}, others.map((m) => h('li', {},
        h('a', { href: switchLink(m), class: 'switch', 'data-node': m.name },
          'Open ' + m.name + ' (' + m.http + ')'),
        ' ', h('span', { class: 'muted' }, 'last seen ' + m.state)))) : null);
    b.hidden = false;
    setConn('node down', 'down');
  }

  // ---- Pages -----------------------------------------------------------
  const pages = {};

  pages.overview = {
    title: 'Overview',
    mount(el) {
      el.append(h('div', { class: 'cards', id: 'cards' }), h('h2', {}, 'Nodes'), h('div', { id: 'ov-nodes' }),
        h('h2', {}, 'Chat in the games'), h('div', { id: 'chat', 'aria-live': 'polite' }, chatTable()));
    },
    update() {
      const cards = $('#cards');
      if (!cards) return;
      const ms = Array.isArray(D.members) ? D.members : [];
      const is = Array.isArray(D.instances) ? D.instances : [];
      const running = is.filter((i) => instStatus(i) === 'running').length;
      const leader = D.raft && D.raft.leader ? D.raft.leader.name || D.raft.leader.id : (D.raft && D.raft.denied ? '?' : 'none');
      let players = null;
      for (const i of is) {
        const s = D.shows[i.name] || i;
        const p = s.players_online !== undefined ? s.players_online : (Array.isArray(s.players) ? s.players.length : null);
        if (p !== null) players = (players || 0) + p;
      }
      const card = (n, l, id) => h('div', { class: 'card', id }, h('div', { class: 'n' }, n), h('div', { class: 'l' }, l));
      cards.replaceChildren(
        card(ms.filter((m) => m.state === 'alive').length + ' / ' + ms.length, 'nodes alive', 'card-nodes'),
        card(leader, 'leader' + (D.raft && D.raft.term ? ' (term ' + D.raft.term + ')' : ''), 'card-leader'),
        card(running + ' / ' + is.length, 'instances running', 'card-running'),
        card(players === null ? '—' : players, players === null ? 'players online (not reported yet)' : 'players online', 'card-players'));
      $('#ov-nodes').replaceChildren(nodesTable(false));
    },
  };

  function nodesTable(full) {
    if (D.members && D.members.denied) return denied(D.members.denied);
    const ms = Array.isArray(D.members) ? D.members : [];
    const servers = {};
    if (D.raft && D.raft.servers) for (const s of D.raft.servers) servers[s.name] = s;
    const cols = ['Node', 'Role', 'Health', 'Version', 'HTTP'];
    if (full) cols.push('Raft', 'Match index', '');
    return table(cols, ms.map((m) => {
      const s = servers[m.name];
      const tds = [h('td', {}, m.name), h('td', {}, status(m.role)), h('td', {}, status(m.state)),
        h('td', {}, m.version || ''), h('td', {}, m.http ? (m.http === location.host ? m.http + ' (this page)' : m.http) : '')];
      if (full) {
        tds.push(h('td', {}, s ? s.suffrage : 'not in Raft'), h('td', {}, s ? String(s.match_index) : ''),
          h('td', { class: 'acts' }, s && s.suffrage === 'voter' && m.role !== 'leader'
            ? guard('cluster.admin', h('button', { type: 'button',
              onclick: () => act('Transfer leadership to ' + m.name, 'POST', EP.transfer, { target: m.name }) },
              'Make leader')) : null));
      }
      return h('tr', { 'data-node': m.name }, tds);
    }), 'No members known.');
  }

  pages.nodes = {
    title: 'Nodes',
    mount(el) { el.append(h('div', { id: 'nodes' }), h('h2', {}, 'Autopilot decisions'), h('div', { id: 'decisions' })); },
    update() {
      if (!$('#nodes')) return;
      $('#nodes').replaceChildren(nodesTable(true));
      const ds = D.raft && D.raft.decisions ? D.raft.decisions : [];
      $('#decisions').replaceChildren(table(['When', 'Decision'], ds.slice().reverse().map((d) =>
        h('tr', {}, h('td', {}, new Date(d.at_ms).toLocaleString()), h('td', {}, d.text))), 'None yet.'));
    },
  };

  function nodeSelect(label, id, withNone) {
    const opts = (withNone ? [['', '(none)']] : []).concat(nodeNames().map((n) => [n, n]));
    return field(label, { tag: 'select', id, options: opts });
  }

  pages.instances = {
    title: 'Instances',
    mount(el, arg) {
      if (arg) return instanceDetail.mount(el, arg);
      const f = h('form', { class: 'row', id: 'create-form' },
        field('Name', { id: 'new-name', required: true, pattern: '[A-Za-z0-9_\\-][A-Za-z0-9_.\\-]{0,63}', autocomplete: 'off' }),
        nodeSelect('Node', 'new-node', true),
        h('button', { type: 'submit', class: 'primary', id: 'create-btn' }, 'Create instance'));
      f.addEventListener('submit', async (e) => {
        e.preventDefault();
        const name = $('#new-name').value.trim();
        const node = $('#new-node').value;
        const body = { name };
        if (node) body.node = node;
        if (await act('Create ' + name, 'POST', EP.instances, body)) { $('#new-name').value = ''; soon('instances', loadInstances); }
      });
      el.append(guard('instance.write', f), h('h2', {}, 'All instances'), h('div', { id: 'inst-list' }));
    },
    update() {
      if (S.arg) return instanceDetail.update();
      const list = $('#inst-list');
      if (!list) return;
      const sel = $('#new-node');
      if (sel && sel.options.length !== nodeNames().length + 1) {
        const v = sel.value;
        sel.replaceChildren(h('option', { value: '' }, '(none)'), ...nodeNames().map((n) => h('option', { value: n }, n)));
        sel.value = v;
      }
      if (D.instances && D.instances.denied) { list.replaceChildren(denied(D.instances.denied)); return; }
      const is = Array.isArray(D.instances) ? D.instances : [];
      list.replaceChildren(table(['Name', 'Node', 'Status', 'Desired', 'Ports', 'Actions'], is.map((i) => {
        const b = (label, a, cls) => guard('instance.write', h('button', { type: 'button', class: cls || '',
          'data-action': a, 'aria-label': label + ' ' + i.name,
          onclick: () => act(label + ' ' + i.name, 'POST', EP.action(i.name, a), {}) }, label));
        return h('tr', { 'data-instance': i.name },
          h('td', {}, h('a', { href: '#/instances/' + enc(i.name) }, i.name)),
          h('td', {}, i.node || h('span', { class: 'muted' }, 'unassigned')),
          h('td', { 'data-inst-status': i.name }, status(instStatus(i))),
          h('td', {}, i.desired),
          h('td', {}, i.game_port ? i.game_port + ' / ' + i.rcon_port : ''),
          h('td', { class: 'acts' }, b('Start', 'start', 'primary'), b('Stop', 'stop'), b('Restart', 'restart'),
            b('Kill', 'kill', 'danger'),
            guard('instance.write', h('button', { type: 'button', class: 'danger', 'aria-label': 'Delete ' + i.name,
              onclick: () => { if (confirm('Delete instance ' + i.name + '?')) act('Delete ' + i.name, 'DELETE', EP.instance(i.name)); } }, 'Delete'))));
      }), 'No instances yet: create one above.'));
    },
  };

  const instanceDetail = {
    mount(el, name) {
      el.append(h('p', {}, h('a', { href: '#/instances' }, '← All instances')),
        h('h2', {}, 'Instance ' + name),
        h('div', { class: 'grid2' },
          h('section', { 'aria-label': 'Details' }, h('div', { id: 'inst-info' })),
          h('section', { 'aria-label': 'Assign' },
            guard('instance.write', h('form', { class: 'row', id: 'assign-form' },
              nodeSelect('Assign to node', 'assign-node', true),
              h('button', { type: 'submit', id: 'assign-btn' }, 'Assign'))),
            h('h2', {}, 'Players online'), h('div', { id: 'inst-players' }))),
        h('h2', {}, 'RCON console'),
        guard('rcon.send', h('form', { class: 'row', id: 'rcon-form' },
          field('RCON command', { id: 'rcon-cmd', size: 60, autocomplete: 'off', placeholder: '/sc rcon.print(game.tick)' }),
          h('button', { type: 'submit', id: 'rcon-send' }, 'Send'))),
        h('pre', { class: 'console', id: 'rcon-out', 'aria-live': 'polite', tabindex: '0', 'aria-label': 'RCON replies' }),
        h('h2', {}, 'Configuration'), h('div', { id: 'inst-config' }),
        h('h2', {}, 'Live log'),
        h('pre', { class: 'log', id: 'inst-log', tabindex: '0', 'aria-label': 'Live log' }));
      $('#assign-form').addEventListener('submit', async (e) => {
        e.preventDefault();
        if (await act('Assign ' + name, 'POST', EP.action(name, 'assign'), { node: $('#assign-node').value })) soon('instances', loadInstances);
      });
      $('#rcon-form').addEventListener('submit', async (e) => {
        e.preventDefault();
        const cmd = $('#rcon-cmd').value;
        if (!cmd) return;
        const out = $('#rcon-out');
        out.append('> ' + cmd + '\n');
        const r = await call('POST', EP.action(name, 'rcon'), { command: cmd });
        out.append((r.status === 200 ? r.data.reply : 'error: ' + (r.error || r.status)) + '\n');
        out.scrollTop = out.scrollHeight;
        $('#rcon-cmd').value = '';
      });
      this.loadExtras(name);
    },
    async loadExtras(name) {
      const [cfg, logs] = await Promise.all([call('GET', EP.config(name)), call('GET', EP.log(name) + '?lines=200')]);
      const c = $('#inst-config');
      if (c) {
        if (cfg.status === 200) c.replaceChildren(configEditor(name, cfg.data));
        else c.replaceChildren(cfg.missing ? notAvailable('Instance configuration') : cfg.status === 403 ? denied(cfg.perm) : h('p', { class: 'err' }, cfg.error || ''));
      }
      const log = $('#inst-log');
      if (log && logs.status === 403) log.textContent = '(the token lacks the permission ' + (logs.perm || 'log.read') + ')\n';
      if (log && logs.status === 200) {
        const lines = Array.isArray(logs.data) ? logs.data : (logs.data && logs.data.lines) || (typeof logs.data === 'string' ? logs.data.split('\n') : []);
        log.textContent = lines.map((l) => (typeof l === 'string' ? l : l.line || JSON.stringify(l))).join('\n') + '\n';
      }
      this.openLog(name);
    },
    // The log is an event of the node running the instance: its stream.
    openLog(name) {
      if (S.logStream) S.logStream.close();
      const show = D.shows[name] || (Array.isArray(D.instances) ? D.instances.find((i) => i.name === name) : null);
      const m = Array.isArray(D.members) && show ? D.members.find((x) => x.name === show.node) : null;
      const base = m && m.http && m.http !== location.host ? 'http://' + m.http : '';
      S.logStream = openStream(base, '?logs=1', (ev) => {
        if (ev.type !== 'log' || ev.name !== name) return;
        const log = $('#inst-log');
        if (!log) return;
        log.append(ev.line + '\n');
        while (log.childNodes.length > LOG_LINES_MAX) log.firstChild.remove();
        log.scrollTop = log.scrollHeight;
      }, (state, code) => {
        const log = $('#inst-log');
        if (state === 'unavailable' && log) log.append('(no live log: ' + (code === 403 ? 'the token lacks events.read' : 'not offered') + ')\n');
      });
      S.logStream.instance = name;
    },
    update() {
      const name = S.arg;
      const info = $('#inst-info');
      if (!info) return;
      const i = D.shows[name] || (Array.isArray(D.instances) ? D.instances.find((x) => x.name === name) : null);
      if (!i) { info.replaceChildren(h('p', { class: 'muted' }, 'No instance ' + name + '.')); return; }
      const rows = [['Status', h('span', { 'data-inst-status': name }, status(D.status[name] || i.status))],
        ['Node', i.node || 'unassigned'], ['Desired', i.desired], ['Save', i.save],
        ['Game port', i.game_port], ['RCON port', i.rcon_port]];
      for (const k of ['pid', 'crashes', 'start_to_running_ms', 'error']) if (i[k] !== undefined && i[k] !== '') rows.push([k.replace(/_/g, ' '), String(i[k])]);
      const pl = $('#inst-players');
      if (pl) {
        pl.replaceChildren(Array.isArray(i.players)
          ? table(['Player'], i.players.map((x) => h('tr', {}, h('td', {}, String(x)))), 'Nobody online.')
          : h('p', { class: 'muted' }, (D.status[name] || i.status) === 'running' ? 'Not reported by this node.' : 'The instance is not running.'));
      }
      info.replaceChildren(h('dl', { class: 'kv' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
        h('div', {}, ['start', 'stop', 'restart', 'kill'].map((a) => guard('instance.write', h('button', { type: 'button', 'data-action': a,
          onclick: () => act(a + ' ' + name, 'POST', EP.action(name, a), {}) }, a[0].toUpperCase() + a.slice(1))))));
      const sel = $('#assign-node');
      if (sel && (sel.options.length !== nodeNames().length + 1 || !sel.dataset.set)) {
        sel.replaceChildren(h('option', { value: '' }, '(none)'), ...nodeNames().map((n) => h('option', { value: n }, n)));
        sel.value = i.node || '';
        sel.dataset.set = '1'; // from now on the user's choice stays
      }
    },
  };

  function configEditor(name, cfg) {
    const ta = h('textarea', { id: 'cfg-text', rows: 14, cols: 80 });
    const shown = Object.assign({}, cfg);
    delete shown.name;
    ta.value = JSON.stringify(shown, null, 2);
    const f = h('form', {}, h('label', { for: 'cfg-text' }, 'Settings (JSON)'), h('br'), ta, h('br'),
      guard('instance.write', h('button', { type: 'submit' }, 'Save configuration')));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      let body;
      try { body = JSON.parse(ta.value); } catch (err) { toast('The configuration is not valid JSON', true); return; }
      // Secrets come back masked: sending the mask would set it.
      if (body.settings) for (const k of Object.keys(body.settings)) if (body.settings[k] === '********') delete body.settings[k];
      await act('Configuration of ' + name, 'POST', EP.config(name), body);
    });
    return f;
  }

  // A page over a list the API may or may not offer yet: a generic table
  // of the first array in the answer, refetched on its domain's events.
  function listPage(title, path, domain, extra) {
    return {
      title, domain,
      mount(el) {
        if (extra && extra.mount) extra.mount(el);
        el.append(h('div', { id: 'list' }));
      },
      async update() {
        const r = await call('GET', typeof path === 'function' ? path() : path);
        const el = $('#list');
        if (!el) return;
        if (r.missing) { el.replaceChildren(notAvailable(title)); return; }
        if (r.status === 403) { el.replaceChildren(denied(r.perm)); return; }
        if (r.status !== 200) { el.replaceChildren(h('p', { class: 'err' }, r.error || 'HTTP ' + r.status)); return; }
        const rows = firstArray(r.data);
        if (extra && extra.render) { el.replaceChildren(extra.render(rows, r.data)); return; }
        el.replaceChildren(genericTable(rows));
      },
    };
  }
  function cell(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  function genericTable(rows, actions) {
    const cols = [];
    for (const r of rows) if (r && typeof r === 'object') for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
    if (!cols.length) return table(['Value'], rows.map((r) => h('tr', {}, h('td', {}, cell(r)))));
    return table(cols.concat(actions ? [''] : []), rows.map((r) => h('tr', { 'data-row': cell(r.name || r.id || '') },
      cols.map((c) => h('td', {}, cell(r[c]))), actions ? h('td', { class: 'acts' }, actions(r)) : null)));
  }

  pages.saves = {
    title: 'Saves', domain: 'instances',
    mount(el) {
      const names = Array.isArray(D.instances) ? D.instances.map((i) => [i.name, i.name]) : [];
      const drop = h('div', { class: 'drop', id: 'drop' }, 'Drop a .zip save here, or ',
        h('label', { for: 'save-file' }, 'choose a file'), ' ',
        h('input', { type: 'file', id: 'save-file', accept: '.zip' }),
        h('div', {}, h('label', { for: 'save-progress' }, 'Upload progress '), h('progress', { id: 'save-progress', max: 100, value: 0 })));
      el.append(h('form', { class: 'row', id: 'saves-form' }, field('Instance', { tag: 'select', id: 'save-inst', options: names })),
        guard('save.write', drop), h('div', { id: 'list' }));
      $('#save-inst').addEventListener('change', () => this.update());
      drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
      drop.addEventListener('dragleave', () => drop.classList.remove('over'));
      drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); });
      $('#save-file').addEventListener('change', (e) => { if (e.target.files[0]) upload(e.target.files[0]); });
    },
    async update() {
      const el = $('#list');
      const sel = $('#save-inst');
      if (!el || !sel) return;
      if (!sel.options.length && Array.isArray(D.instances))
        sel.replaceChildren(...D.instances.map((i) => h('option', { value: i.name }, i.name)));
      const inst = sel.value;
      if (!inst) { el.replaceChildren(h('p', { class: 'muted' }, 'No instance: create one first.')); return; }
      const r = await call('GET', EP.saves(inst));
      if (r.missing) { el.replaceChildren(notAvailable('Saves')); return; }
      if (r.status === 403) { el.replaceChildren(denied(r.perm)); return; }
      if (r.status !== 200) { el.replaceChildren(h('p', { class: 'err' }, r.error || 'HTTP ' + r.status)); return; }
      const acts = (s) => {
        const n = s.name || String(s);
        return [h('button', { type: 'button', onclick: () => download(inst, n) }, 'Download'),
          guard('save.write', h('button', { type: 'button', onclick: async () => {
            const to = prompt('New name for ' + n);
            if (to) { await act('Rename ' + n, 'POST', EP.save(inst, n) + '/rename', { to }); this.update(); }
          } }, 'Rename')),
          guard('save.write', h('button', { type: 'button', onclick: async () => {
            const to = prompt('Name of the copy of ' + n);
            if (to) { await act('Copy ' + n, 'POST', EP.save(inst, n) + '/copy', { to }); this.update(); }
          } }, 'Copy')),
          guard('save.write', h('button', { type: 'button', class: 'danger', onclick: async () => {
            if (confirm('Delete ' + n + '?')) { await act('Delete ' + n, 'DELETE', EP.save(inst, n)); this.update(); }
          } }, 'Delete'))];
      };
      el.replaceChildren(table(['Save', 'Size', 'Modified', '', ''], firstArray(r.data).map((sv) => h('tr', { 'data-save': sv.name },
        h('td', {}, sv.name), h('td', {}, bytes(sv.size)), h('td', {}, sv.mtime_ms ? new Date(sv.mtime_ms).toLocaleString() : ''),
        h('td', {}, [sv.loaded ? 'loaded' : '', sv.newest ? 'newest' : ''].filter(Boolean).join(', ')),
        h('td', { class: 'acts' }, acts(sv)))), 'No saves yet: upload one above.'));
    },
  };
  function bytes(n) {
    if (typeof n !== 'number') return '';
    return n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MiB' : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : n + ' B';
  }
  // Uploads go in parts of at most 1 MiB (the API's bound on a request
  // body): one upload id, each part at its offset, in order.
  const PART_BYTES = 1 << 20;
  function upload(file) {
    const inst = $('#save-inst').value;
    if (!inst) { toast('Choose an instance first', true); return; }
    const id = 'ui' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    const bar = $('#save-progress');
    const part = (offset) => {
      const end = Math.min(offset + PART_BYTES, file.size);
      const xhr = new XMLHttpRequest();
      const q = file.size > PART_BYTES ? '?upload=' + id + '&offset=' + offset + '&total=' + file.size : '';
      xhr.open('PUT', API + EP.save(inst, file.name) + q);
      xhr.setRequestHeader('Authorization', 'Bearer ' + S.token);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable && file.size) bar.value = Math.round(100 * (offset + e.loaded) / file.size); };
      xhr.onload = () => {
        let msg = '';
        try { msg = JSON.parse(xhr.responseText).error || ''; } catch (e) { msg = ''; }
        if (xhr.status >= 200 && xhr.status < 300 && end < file.size) { part(end); return; }
        if (xhr.status >= 200 && xhr.status < 300) { bar.value = 100; toast('Uploaded ' + file.name); }
        else if (xhr.status === 404 && /no such (endpoint|resource|action)/.test(msg)) toast('Uploading saves is not available on this node', true);
        else toast('Upload of ' + file.name + ' failed: ' + (msg || xhr.status), true);
        pages.saves.update();
      };
      xhr.onerror = () => toast('Upload of ' + file.name + ' failed: the node does not answer', true);
      xhr.send(file.slice(offset, end));
    };
    bar.value = 0;
    part(0);
  }
  async function download(inst, name) {
    const res = await fetch(API + EP.save(inst, name), { headers: { Authorization: 'Bearer ' + S.token } });
    if (!res.ok) { toast('Download failed: HTTP ' + res.status, true); return; }
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  pages.users = listPage('Users', EP.users, 'users', {
    mount(el) {
      const f = h('form', { class: 'row', id: 'user-form' },
        field('Player name', { id: 'user-name', required: true, autocomplete: 'off' }),
        field('Reason', { id: 'user-reason', autocomplete: 'off' }),
        h('button', { type: 'submit', name: 'ban', id: 'ban-btn', class: 'danger' }, 'Ban'),
        h('button', { type: 'button', id: 'whitelist-btn', onclick: () => userAct('whitelist') }, 'Whitelist'),
        h('button', { type: 'button', id: 'admin-btn', onclick: () => userAct('admin') }, 'Make admin'));
      f.addEventListener('submit', (e) => { e.preventDefault(); userAct('ban'); });
      el.append(guard('user.write', f));
      el.append(h('h2', {}, 'Users'));
      const after = h('div', {}, h('h2', {}, 'Roles'), h('div', { id: 'roles' }), h('h2', {}, 'API tokens'), h('div', { id: 'tokens' }));
      setTimeout(() => { el.append(after); loadRolesTokens(); }, 0);
    },
    render(rows) {
      const flip = (u, field, label) => guard('user.write', h('button', { type: 'button', 'aria-label': label + ' ' + u.name,
        onclick: async () => { await act(label + ' ' + u.name, 'PATCH', EP.user(u.name), { [field]: !u[field] }); pages.users.update(); } }, label));
      return table(['Name', 'Admin', 'Whitelisted', 'Banned', 'Reason', 'Roles', ''], rows.map((u) => h('tr', { 'data-user': u.name },
        h('td', {}, u.name), h('td', {}, u.admin ? 'yes' : ''), h('td', {}, u.whitelisted ? 'yes' : ''),
        h('td', {}, u.banned ? h('span', { class: 'st st-dead' }, 'banned') : ''), h('td', {}, u.reason || ''),
        h('td', {}, Array.isArray(u.roles) ? u.roles.join(', ') : ''),
        h('td', { class: 'acts' }, flip(u, 'banned', u.banned ? 'Unban' : 'Ban'), flip(u, 'whitelisted', u.whitelisted ? 'Unwhitelist' : 'Whitelist'),
          flip(u, 'admin', u.admin ? 'Demote' : 'Promote')))), 'No users yet.');
    },
  });
  async function userAct(what) {
    const name = $('#user-name').value.trim();
    if (!name) { toast('Name the player first', true); $('#user-name').focus(); return; }
    const body = { create: true };
    if (what === 'ban') { body.banned = true; body.reason = $('#user-reason').value; }
    if (what === 'whitelist') body.whitelisted = true;
    if (what === 'admin') body.admin = true;
    const r = await call('PATCH', EP.user(name), body);
    if (r.status >= 200 && r.status < 300) { toast(what + ' ' + name + ': done'); pages.users.update(); }
    else if (r.missing) toast('Users are not available on this node', true);
    else toast(what + ' ' + name + ': ' + (r.error || r.status), true);
  }
  async function loadRolesTokens() {
    const [ro, tk] = await Promise.all([call('GET', EP.roles), call('GET', EP.tokens)]);
    const re = $('#roles');
    if (re) re.replaceChildren(ro.status === 200 ? genericTable(firstArray(ro.data)) : ro.missing ? notAvailable('Roles') : denied(ro.perm));
    const te = $('#tokens');
    if (!te) return;
    if (tk.status !== 200) { te.replaceChildren(tk.missing ? notAvailable('Tokens') : denied(tk.perm)); return; }
    const f = h('form', { class: 'row', id: 'token-form' }, field('Token name', { id: 'token-name', autocomplete: 'off' }),
      field('Role', { tag: 'select', id: 'token-role', options: [['read', 'read'], ['admin', 'admin']] }),
      h('button', { type: 'submit' }, 'Create token'));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const r = await act('Create token', 'POST', EP.tokens, { name: $('#token-name').value, role: $('#token-role').value });
      if (r) { te.prepend(h('p', {}, 'New token (shown once): ', h('code', {}, r.data.token))); loadRolesTokens(); }
    });
    te.replaceChildren(guard('token.write', f), table(['Name', 'Id', 'Kind', 'Role', 'State', ''], firstArray(tk.data).map((t) => h('tr', {},
      h('td', {}, t.name), h('td', {}, h('code', {}, t.id)), h('td', {}, t.kind), h('td', {}, t.role || ''),
      h('td', {}, t.revoked ? 'revoked' : t.expired ? 'expired' : 'valid'),
      h('td', {}, t.revoked ? '' : guard('token.write', h('button', { type: 'button', class: 'danger',
        onclick: async () => { if (confirm('Revoke token ' + t.id + '?')) { await act('Revoke', 'DELETE', EP.tokens + '/' + t.id); loadRolesTokens(); } } }, 'Revoke')))))));
  }

  pages.items = listPage('The item ledger', EP.items, 'items');
  pages.inventories = listPage('Inventories', EP.inventories, 'inventory');
  pages.plugins = listPage('Plugins', EP.plugins, 'plugins');
  pages.plugins.also = ['kv']; // the registry lives in the KV namespace _plugins

  // ---- Routing ---------------------------------------------------------
  function route() {
    const m = /^#\/([a-z]+)(?:\/(.+))?$/.exec(location.hash);
    const page = m && pages[m[1]] ? m[1] : 'overview';
    const arg = m && m[2] ? decodeURIComponent(m[2]) : null;
    if (S.logStream && (page !== 'instances' || arg !== S.logStream.instance)) { S.logStream.close(); S.logStream = null; }
    S.page = page;
    S.arg = arg;
    const main = $('#main');
    main.replaceChildren(h('h1', {}, pages[page].title));
    document.title = pages[page].title + ' · clusterd';
    document.querySelectorAll('nav a').forEach((a) => {
      if (a.getAttribute('data-page') === page) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    pages[page].mount(main, arg);
    updatePage(null);
  }
  // Refreshes the open page. Pages over a resource of their own (domain)
  // refetch only for events of that resource; the others redraw from D.
  function updatePage(what) {
    const p = pages[S.page];
    if (!p) return;
    if (what !== null && p.domain && what !== p.domain && !(p.also || []).includes(what)) return;
    Promise.resolve(p.update()).then(() => {
      if (S.metrics.ready === null && D.members !== null) S.metrics.ready = performance.now();
    });
  }
  function refreshAll() {
    loadCluster();
    loadInstances();
  }

  // ---- Login -------------------------------------------------------------
  function showLogin(msg) {
    $('#nav').hidden = true;
    $('#logout').hidden = true;
    $('#who').textContent = '';
    const f = h('form', { class: 'login', id: 'login-form' },
      h('h1', {}, 'Log in to clusterd'),
      h('p', {}, 'Paste an API token (clusterctl token create prints one; clusterd init printed the first). It stays in this tab only.'),
      msg ? h('p', { class: 'err', role: 'alert' }, msg) : null,
      h('label', { for: 'token' }, 'API token'),
      h('input', { type: 'password', id: 'token', autocomplete: 'off', required: true }),
      h('button', { type: 'submit', class: 'primary', id: 'login-btn' }, 'Log in'));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const t = $('#token').value.trim();
      S.token = t;
      const r = await call('GET', EP.members);
      if (r.status === 401 || r.status === 0) { S.token = null; showLogin(r.status ? 'This token is not valid here: ' + (r.error || '') : 'The node does not answer.'); return; }
      sessionStorage.setItem(TOKEN_KEY, t);
      start();
    });
    $('#main').replaceChildren(f);
    $('#token').focus();
  }
  function logout(msg) {
    sessionStorage.removeItem(TOKEN_KEY);
    S.token = null;
    for (const k of Object.keys(S.streams)) S.streams[k].close();
    S.streams = {};
    if (S.logStream) { S.logStream.close(); S.logStream = null; }
    setConn('not connected');
    showLogin(msg);
  }
  // What the token may do: its role, when the token list says (a token
  // may read tokens with token.read); otherwise 403s teach it.
  async function learnRole() {
    const id = S.token.split('.')[0];
    const r = await call('GET', EP.tokens);
    if (r.status === 200) {
      const t = firstArray(r.data).find((x) => x.id === id);
      if (t) S.role = t.role || null;
    } else if (r.status === 403) S.role = S.role || null;
    $('#who').textContent = 'token ' + id + (S.role ? ' (' + S.role + ')' : '');
    document.querySelectorAll('[data-perm]').forEach((e) => { e.hidden = !can(e.getAttribute('data-perm')); });
  }
  function start() {
    $('#nav').hidden = false;
    $('#logout').hidden = false;
    $('#who').textContent = 'token ' + S.token.split('.')[0];
    learnRole();
    route();
    // The first data comes after the stream's hello (so no change falls
    // between the fetch and the subscription), or without it if the
    // stream does not say hello soon.
    openMain();
    setTimeout(() => { if (S.metrics.hello === null) refreshAll(); }, 3000);
  }

  // A switch from another node's page carries the token in the fragment
  // (never sent to a server); keep it in this tab and drop it from the URL.
  function takeHandOff() {
    const m = /^#token=([^&]+)(?:&page=(.*))?$/.exec(location.hash);
    if (!m) return;
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + '#' + (m[2] ? decodeURIComponent(m[2]) : '/overview'));
  }

  window.addEventListener('hashchange', () => { if (S.token) route(); });
  $('#logout').addEventListener('click', () => logout(''));
  takeHandOff();
  S.token = sessionStorage.getItem(TOKEN_KEY);
  if (S.token) start(); else showLogin('');
})();
