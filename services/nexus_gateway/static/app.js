// Nexus Mesh demo page: one WebSocket session with the gateway (DESIGN.md section 5).
//
// Everything received is untrusted: it reaches the page only through textContent.
// After a resumable close (1001 draining, 4008 slow consumer, 1006 dropped) the page
// reconnects with ?since=<last position>&connection_id=<its id>, so it misses nothing and
// its replies follow it, and resends the events the
// gateway had not acknowledged yet under their original event_id, which the gateway
// deduplicates.

const RESUMABLE = new Set([1001, 1006, 4008]);
const CLOSE_REASONS = new Map([
  [1000, "closed"],
  [1001, "gateway going away"],
  [1006, "connection lost"],
  [1009, "frame too large"],
  [4001, "unauthorized"],
  [4003, "campaign forbidden"],
  [4008, "too slow, resuming"],
  [4009, "taken over by a newer connection (this session resumed elsewhere)"],
]);
const BACKOFF_MIN_MS = 500;
// A browser shows every refused handshake (wrong URL, origin not allowed, gateway down) as
// 1006, like a dropped connection: a join never welcomed gives up after this many tries
// instead of retrying for ever as "connection lost".
const FIRST_CONNECT_ATTEMPTS = 4;
const BACKOFF_MAX_MS = 30_000;
const MAX_LOG_ENTRIES = 500;
// A retryable nexus.error (rate_limited, unavailable, unconfirmed): the same frame, same
// event_id, is sent again this often before the page gives up; a new id could write twice.
const RESEND_ATTEMPTS = 5;
// The page's own limit on a search: the gateway's timeout event may never come (a resume on
// another pod, or a close that could not be resumed).
const SEARCH_TIMEOUT_MS = 20_000;

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  joinForm: $("join-form"),
  gateway: $("gateway"),
  campaign: $("campaign"),
  user: $("user"),
  token: $("token"),
  connect: $("connect"),
  welcome: $("welcome"),
  welcomeConnection: $("welcome-connection"),
  welcomeIdentity: $("welcome-identity"),
  welcomePosition: $("welcome-position"),
  welcomeRecovered: $("welcome-recovered"),
  chatForm: $("chat-form"),
  chatInput: $("chat-input"),
  chatSend: $("chat-send"),
  searchForm: $("search-form"),
  searchInput: $("search-input"),
  searchSend: $("search-send"),
  results: $("results"),
  log: $("log"),
  logClear: $("log-clear"),
};

const session = {
  ws: null,
  wanted: false, // the user asked to be connected; closes we did not ask for reconnect
  target: null, // {gateway, campaign, user, token} of the current join
  position: null, // last position seen: where a reconnect resumes
  connectionId: null, // named on a reconnect, so its replies follow it (not a guess)
  attempt: 0,
  welcomedSinceJoin: false, // a 1006 before any welcome is a refusal as likely as a drop
  retryTimer: null,
  unacked: new Map(), // event_id -> {frame, entry, tries}: resent after a resume
  searchId: null, // correlation id of the search whose results are shown
  searchTimer: null,
};

// -- status and controls ---------------------------------------------------------------

function setStatus(state, text) {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
  const live = state === "connected";
  for (const el of [ui.chatInput, ui.chatSend, ui.searchInput, ui.searchSend]) {
    el.disabled = !live;
  }
  const idle = state === "disconnected" || state === "failed";
  for (const el of [ui.gateway, ui.campaign, ui.user, ui.token]) el.disabled = !idle;
  ui.connect.textContent = idle ? "Connect" : "Disconnect";
}

function showWelcome(payload) {
  ui.welcomeConnection.textContent = String(payload.connection_id ?? "");
  ui.welcomeIdentity.textContent = `${payload.campaign_id ?? ""} / ${payload.user_id ?? ""}`;
  ui.welcomePosition.textContent = String(payload.position ?? "");
  ui.welcomeRecovered.textContent = payload.recovered ? "yes" : "no";
  ui.welcome.hidden = false;
}

// -- the log ---------------------------------------------------------------------------

function formatTime(ms) {
  const date = typeof ms === "number" ? new Date(ms) : new Date();
  return date.toLocaleTimeString([], { hourCycle: "h23" });
}

function compact(value) {
  const text = JSON.stringify(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

function span(className, text) {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}

function logEntry({ direction, type, time, who, payload, eventId }) {
  const li = document.createElement("li");
  li.className = `entry ${direction}`;
  li.dataset.type = type;
  if (eventId) li.dataset.eventId = eventId;
  li.append(
    span("time", formatTime(time)),
    span("arrow", { out: "→", in: "←" }[direction] ?? "·"),
    span("type", type),
    span("who", who ?? ""),
    span("payload", typeof payload === "string" ? payload : compact(payload)),
    span("outcome", ""),
  );
  ui.log.prepend(li);
  while (ui.log.childElementCount > MAX_LOG_ENTRIES) ui.log.lastElementChild.remove();
  return li;
}

function setOutcome(entry, state, text) {
  entry.dataset.outcome = state;
  entry.querySelector(".outcome").textContent = text;
}

function logNote(text) {
  logEntry({ direction: "note", type: "note", who: "", payload: text });
}

// -- connecting ------------------------------------------------------------------------

function wsUrl(target, since, connectionId) {
  const url = new URL(target.gateway);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const prefix = url.pathname.replace(/\/+$/, "");
  url.pathname = `${prefix}/ws/${encodeURIComponent(target.campaign)}/${encodeURIComponent(target.user)}`;
  url.search = "";
  url.hash = "";
  if (since) {
    url.searchParams.set("since", since);
    if (connectionId) url.searchParams.set("connection_id", connectionId);
  }
  return url.toString();
}

function open() {
  clearTimeout(session.retryTimer);
  session.retryTimer = null;
  const { target } = session;
  let ws;
  try {
    // Browsers cannot set an Authorization header on a WebSocket; the gateway reads the
    // token from this subprotocol instead.
    const protocols = target.token ? [`bearer.${target.token}`] : [];
    ws = new WebSocket(wsUrl(target, session.position, session.connectionId), protocols);
  } catch (err) {
    session.wanted = false;
    setStatus("failed", `cannot connect: ${err.message}`);
    return;
  }
  session.ws = ws;
  setStatus(session.welcomedSinceJoin ? "reconnecting" : "connecting", "connecting…");
  ws.onmessage = (message) => {
    if (ws === session.ws) receive(message.data);
  };
  ws.onclose = (event) => {
    if (ws === session.ws) closed(event.code, event.reason);
  };
}

function closed(code, reason) {
  session.ws = null;
  const why = CLOSE_REASONS.get(code) ?? `code ${code}`;
  const detail = reason ? `${why}: ${reason}` : why;
  if (!session.wanted) {
    setStatus("disconnected", "disconnected");
    failUnacked("not sent: disconnected");
    return;
  }
  if (!RESUMABLE.has(code)) {
    session.wanted = false;
    setStatus("failed", `closed (${code}) ${detail}`);
    failUnacked(`not confirmed: ${why}`);
    if (session.searchId) showSearchProblem("failed", `no answer: ${why}`);
    if (code === 4001) logNote("join again with a new token: the page resumes where it was");
    // Another tab resumed this session's id: joining again must not take it back from it.
    if (code === 4009) session.connectionId = null;
    return;
  }
  if (!session.welcomedSinceJoin && code === 1006) {
    if (session.attempt + 1 >= FIRST_CONNECT_ATTEMPTS) {
      session.wanted = false;
      setStatus("failed", `could not connect after ${session.attempt + 1} tries`);
      logNote(
        "could not connect: check the gateway URL and token, and that the gateway allows " +
          "this page's origin (NEXUS_GATEWAY_ALLOWED_ORIGINS); the browser does not say which",
      );
      failUnacked("not sent: could not connect");
      return;
    }
    const delay = backoffDelay();
    setStatus("connecting", `could not connect; trying again in ${(delay / 1000).toFixed(1)} s`);
    session.retryTimer = setTimeout(open, delay);
    return;
  }
  const delay = backoffDelay();
  setStatus("reconnecting", `${detail}; reconnecting in ${(delay / 1000).toFixed(1)} s`);
  logNote(`closed (${code}) ${detail}; resuming from ${session.position ?? "the start"}`);
  session.retryTimer = setTimeout(open, delay);
}

function backoffDelay() {
  // Exponential backoff with jitter, so a drained pod's clients do not return all at once.
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** session.attempt);
  session.attempt += 1;
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function failUnacked(text) {
  for (const { entry } of session.unacked.values()) setOutcome(entry, "lost", text);
  session.unacked.clear();
}

function join() {
  const target = {
    gateway: ui.gateway.value.trim(),
    campaign: ui.campaign.value.trim(),
    user: ui.user.value.trim(),
    token: ui.token.value.trim(),
  };
  try {
    new URL(target.gateway);
  } catch {
    setStatus("failed", "the gateway URL is not valid");
    return;
  }
  const previous = session.target;
  session.target = target;
  session.wanted = true;
  session.attempt = 0;
  session.welcomedSinceJoin = false;
  // Joining the same campaign as the same user again (after a 4001 for an expired token,
  // say, with a new one) resumes where the page was; anything else starts now.
  if (!previous || previous.campaign !== target.campaign || previous.user !== target.user ||
      previous.gateway !== target.gateway) {
    session.position = null;
    session.connectionId = null;
  }
  ui.welcome.hidden = true;
  open();
}

function leave() {
  session.wanted = false;
  clearTimeout(session.retryTimer);
  session.retryTimer = null;
  const ws = session.ws;
  if (ws) {
    ws.close(1000, "bye");
  } else {
    setStatus("disconnected", "disconnected");
    failUnacked("not sent: disconnected");
  }
}

// -- sending ---------------------------------------------------------------------------

function newEventId() {
  // randomUUID exists only in secure contexts (https, or loopback over http).
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID().replaceAll("-", "");
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function send(type, payload) {
  const eventId = newEventId();
  const frame = JSON.stringify({ type, payload, metadata: { event_id: eventId } });
  const entry = logEntry({
    direction: "out",
    type,
    who: session.target.user,
    payload,
    eventId,
  });
  setOutcome(entry, "pending", "sending…");
  session.unacked.set(eventId, { frame, entry, tries: 1 });
  session.ws.send(frame);
  return eventId;
}

// -- receiving -------------------------------------------------------------------------

function receive(data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    logNote("the gateway sent a frame that is not JSON");
    return;
  }
  if (!frame || typeof frame.type !== "string") return;
  const payload = frame.payload && typeof frame.payload === "object" ? frame.payload : {};
  const metadata = frame.metadata && typeof frame.metadata === "object" ? frame.metadata : {};
  switch (frame.type) {
    case "nexus.welcome":
      return welcomed(payload);
    case "nexus.ack":
    case "nexus.error":
      return answered(frame.type, payload, metadata);
    default:
      return delivered(frame.type, payload, metadata);
  }
}

function welcomed(payload) {
  const resumed = session.attempt > 0 && session.welcomedSinceJoin;
  session.attempt = 0;
  session.welcomedSinceJoin = true;
  if (typeof payload.position === "string") session.position = payload.position;
  if (typeof payload.connection_id === "string") session.connectionId = payload.connection_id;
  showWelcome(payload);
  setStatus("connected", `connected as ${payload.user_id ?? session.target.user}`);
  if (resumed) {
    logNote(payload.recovered ? "resumed: nothing missed" : "reconnected: some events may be missing");
  }
  for (const { frame, entry } of session.unacked.values()) {
    setOutcome(entry, "pending", "resent…");
    session.ws.send(frame);
  }
}

function answered(type, payload, metadata) {
  const eventId = metadata.correlation_id ?? payload.event_id;
  const sent = eventId ? session.unacked.get(eventId) : undefined;
  if (!sent) {
    if (type === "nexus.error") logNote(`error ${payload.code}: ${payload.message}`);
    return;
  }
  if (type === "nexus.error" && payload.retryable === true && sent.tries < RESEND_ATTEMPTS) {
    // Kept, and sent again as it was: for "unconfirmed" the write may still land, and only
    // the same event_id lets the gateway answer it instead of writing it twice.
    // rate_limited says when the user's next event is let through: sooner is refused again.
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** sent.tries);
    const waitMs = Number.isInteger(payload.retry_after_ms) ? payload.retry_after_ms : 0;
    const delay = Math.max(backoff, Math.min(BACKOFF_MAX_MS, waitMs));
    sent.tries += 1;
    setOutcome(sent.entry, "pending", `${payload.code}: resending in ${(delay / 1000).toFixed(1)} s…`);
    setTimeout(() => {
      // Resent by a resume meanwhile, or answered: nothing to do.
      if (session.unacked.get(eventId) === sent && session.ws?.readyState === WebSocket.OPEN) {
        session.ws.send(sent.frame);
      }
    }, delay);
    return;
  }
  session.unacked.delete(eventId);
  if (type === "nexus.ack") {
    const dup = payload.duplicate ? " (duplicate)" : "";
    setOutcome(sent.entry, "acked", `✓ ${payload.topic}/${payload.partition}@${payload.offset}${dup}`);
    return;
  }
  const retry = payload.retryable ? ` (gave up after ${sent.tries} tries)` : "";
  setOutcome(sent.entry, "error", `✗ ${payload.code}: ${payload.message}${retry}`);
  if (eventId === session.searchId) showSearchProblem("error", `${payload.code}: ${payload.message}`);
}

function delivered(type, payload, metadata) {
  if (typeof metadata.position === "string") session.position = metadata.position;
  logEntry({
    direction: "in",
    type,
    time: metadata.time,
    // The sender: a client's event names its user in an attribute the gateway stamps
    // (metadata.user_id addresses a reply to its requester); anything else, its source.
    who: metadata.attributes?.["nexus.sender_user_id"] ?? metadata.source ?? "",
    payload,
    eventId: metadata.event_id,
  });
  if (metadata.correlation_id && metadata.correlation_id === session.searchId) {
    searchAnswered(type, payload);
  }
}

// -- search ----------------------------------------------------------------------------

function searchAnswered(type, payload) {
  if (type === "search.completed") {
    showHits(Array.isArray(payload.hits) ? payload.hits : []);
  } else if (type === "search.timeout") {
    const ms = Number(payload.timeout_ms);
    showSearchProblem("timeout", `no answer within ${Number.isFinite(ms) ? ms / 1000 : "?"} s`);
  } else if (type === "search.failed") {
    showSearchProblem("failed", `${payload.code ?? "failed"}: ${payload.message ?? ""}`);
  } else {
    return;
  }
  session.searchId = null;
}

function showHits(hits) {
  ui.results.replaceChildren();
  ui.results.dataset.state = "completed";
  if (hits.length === 0) {
    ui.results.append(span("empty", "no results"));
    return;
  }
  const list = document.createElement("ol");
  for (const hit of hits) {
    const li = document.createElement("li");
    li.className = "hit";
    const score = Number(hit.score);
    li.append(
      span("title", String(hit.title ?? "")),
      span("score", Number.isFinite(score) ? score.toFixed(3) : ""),
    );
    if (hit.snippet) {
      const p = document.createElement("p");
      p.className = "snippet";
      p.textContent = String(hit.snippet);
      li.append(p);
    }
    list.append(li);
  }
  ui.results.append(list);
}

function showSearchProblem(state, text) {
  ui.results.replaceChildren(span("problem", text));
  ui.results.dataset.state = state;
  session.searchId = null;
}

function searchSent(searchId) {
  clearTimeout(session.searchTimer);
  session.searchTimer = setTimeout(() => {
    if (session.searchId === searchId) {
      showSearchProblem("timeout", `no answer within ${SEARCH_TIMEOUT_MS / 1000} s`);
    }
  }, SEARCH_TIMEOUT_MS);
}

// -- wiring ----------------------------------------------------------------------------

ui.gateway.value = location.origin.startsWith("http") ? location.origin : "http://127.0.0.1:8080";
setStatus("disconnected", "disconnected");

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (session.wanted) leave();
  else join();
});

ui.chatForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text || !session.ws || session.ws.readyState !== WebSocket.OPEN) return;
  send("chat.message", { text });
  ui.chatInput.value = "";
});

ui.searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const query = ui.searchInput.value.trim();
  if (!query || !session.ws || session.ws.readyState !== WebSocket.OPEN) return;
  // The gateway correlates the reply with this event_id, as no correlation_id is set.
  session.searchId = send("search", { query });
  searchSent(session.searchId);
  ui.results.replaceChildren(span("pending", `searching “${query}”…`));
  ui.results.dataset.state = "pending";
});

ui.logClear.addEventListener("click", () => ui.log.replaceChildren());
